"""PostgreSQL LISTEN/NOTIFY: wake-ups from other processes.

The eventsourcing postgres recorder NOTIFYs on a channel named after its events table (`crm_events`)
at every insert; our runners NOTIFY `crm_projection_progress` with `name:position` after each batch (the
projection group with `name,name,…:position`).
"""

from __future__ import annotations

import logging
import threading

import psycopg

from crm_api.application.notifier import LogNotifier
from crm_api.projections.runner import PROGRESS_CHANNEL

log = logging.getLogger(__name__)


def listen(
    conninfo: str, events_channel: str, notifier: LogNotifier, stop: threading.Event
) -> None:
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f"LISTEN {events_channel}")
                conn.execute(f"LISTEN {PROGRESS_CHANNEL}")
                notifier.appended()
                while not stop.is_set():
                    for note in conn.notifies(timeout=0.2):
                        if note.channel == events_channel:
                            notifier.appended()
                        else:
                            names, _, position = note.payload.rpartition(":")
                            if position.isdigit():
                                notifier.progressed_many(names.split(","), int(position))
        except psycopg.Error:
            log.exception("lost the LISTEN connection; reconnecting")
            stop.wait(1.0)
