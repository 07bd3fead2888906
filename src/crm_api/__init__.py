"""crm_api: a headless, event-sourced CRM service."""

__version__ = "0.1.0"
