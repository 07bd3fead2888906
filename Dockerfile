# crm_api: migrations, then serve. PostgreSQL via CRM_DATABASE_URL, e.g.
#   docker run -e CRM_DATABASE_URL=postgresql+psycopg://crm@db:5432/crm -e CRM_JWT_SECRET=… -p 8000:8000 crm_api
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home --uid 10001 crm
COPY pyproject.toml README.md alembic.ini ./
COPY src ./src
COPY migrations ./migrations
RUN pip install -e . && mkdir -p /app/var && chown -R crm:crm /app/var

USER crm
EXPOSE 8000
CMD ["sh", "-c", "crm-api migrate && exec crm-api serve --host 0.0.0.0 --port 8000 ${CRM_SERVE_ARGS:-}"]
