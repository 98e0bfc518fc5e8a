# The CDS Hooks service and the SMART app under gunicorn. Two targets:
#   docker build -t sclc-relapse-cds .                    production (the default, last)
#   docker build --target demo -t sclc-relapse-cds:demo . the demo EHR, its fixtures and
#                                                         `sclc-cds screen` besides
# (here: make image, which builds both with podman and checks each).
# The production image leaves out the demo EHR (service/demo: the fixture /fhir, its
# authorization server, /demo and the synthetic fixtures) and the screen's Dask, pyarrow
# and matplotlib. It listens on 0.0.0.0, so it refuses to start without JWT
# authentication (issue 9). A real deployment, behind a TLS proxy at
# https://cds.example.org:
#   docker run -p 8080:8080 -v sclc-feedback:/data \
#     -e SCLC_CDS_BASE_URL=https://cds.example.org \
#     -e SCLC_CDS_JWT_REQUIRED=true \
#     -e SCLC_CDS_JWT_ISSUERS='{"https://ehr.example.org": {"jwks": "https://ehr.example.org/.well-known/jwks.json"}}' \
#     -e SCLC_CDS_FHIR_SERVERS=https://ehr.example.org/fhir \
#     -e SCLC_CDS_DATABASE_URL=postgresql+psycopg://cds@db.example.org/cds \
#     sclc-relapse-cds
# The build stages install the project into a virtual environment, every dependency at
# the version constraints.txt pins (`make lock`); the runtime stages copy only that
# environment, and run as a non-root user.
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
# PIP_CERT: a CA bundle for pip when the build runs behind a TLS-inspecting proxy
# (make image passes the host's); empty elsewhere, and then unused.
ARG PIP_CERT=
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY service ./service
COPY cards ./cards
COPY fhir_fixtures ./fhir_fixtures
RUN if [ -n "$PIP_CERT" ]; then export PIP_CERT; else unset PIP_CERT; fi \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
        -c /src/constraints.txt /src \
    && cd / && /opt/venv/bin/python -c "from service.knowledge import load_knowledge; load_knowledge()"

# The demo's environment: everything, the screen extra included.
FROM build AS build-demo
ARG PIP_CERT=
RUN if [ -n "$PIP_CERT" ]; then export PIP_CERT; else unset PIP_CERT; fi \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
        -c /src/constraints.txt '/src[screen]'

# Production's environment: the demo EHR and its fixtures taken out of the install.
FROM build AS build-production
RUN rm -r /opt/venv/lib/python3*/site-packages/service/demo \
    && cd / && /opt/venv/bin/python -c "from service.settings import demo_installed; assert not demo_installed()"

FROM ${BASE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --uid 10001 app \
    && mkdir /data \
    && chown app /data
USER app
WORKDIR /home/app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SCLC_CDS_FEEDBACK_DB=/data/feedback.sqlite3 \
    SCLC_CDS_HOST=0.0.0.0 \
    SCLC_CDS_PORT=8080
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
# `sclc-cds serve` runs gunicorn with the one configuration of service/http/server.py
# (the same as `make run`); the app writes one JSON line per call to stderr.
CMD ["sclc-cds", "serve"]

FROM runtime AS demo
COPY --from=build-demo /opt/venv /opt/venv

FROM runtime AS production
COPY --from=build-production /opt/venv /opt/venv
