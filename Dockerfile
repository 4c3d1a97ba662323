# tagger as a container image: one node of a cluster, or a single daemon.
#
#   docker build -t tagger .
#   docker run -d --name tagger \
#     -v /srv/tagger/config.yaml:/etc/tagger/config.yaml:ro \
#     -v /srv/tagger/rules:/etc/tagger/rules:ro \
#     -v tagger-state:/var/lib/tagger \
#     --env-file /srv/tagger/tagger.env tagger
#
# Two nodes with PostgreSQL: deploy/compose.yaml; how the cluster works: docs/cluster.md.
# No secret is baked in: the config names them ({env:}, {file:}, {credential:}) and they
# arrive at run time (an env file, Docker secrets under /run/secrets).

ARG PYTHON_IMAGE=python:3.11-slim

# -- build: the package with its PostgreSQL driver, in a virtual environment -----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# What the package build reads (setup.py copies the example config, the rules, the unit,
# docs/rules.md and monitoring/ into the wheel); .dockerignore keeps everything else out.
COPY pyproject.toml setup.py MANIFEST.in README.md config.example.yaml ./
COPY tagger ./tagger
COPY rules ./rules
COPY systemd/tagger.service ./systemd/tagger.service
COPY docs/rules.md ./docs/rules.md
COPY monitoring ./monitoring
RUN python -m venv /opt/tagger \
    && /opt/tagger/bin/pip install '.[postgresql]' \
    && /opt/tagger/bin/tagger --version

# -- run ----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="tagger" \
      org.opencontainers.image.description="Rule-driven auto-tagging daemon for Mimecast Smart Tags" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed, unprivileged uid (numeric in USER, so that runAsNonRoot can verify it): give it
# read access to secret files mounted from the host (chown 10001 FILE; chmod 0400 FILE).
RUN groupadd --system --gid 10001 tagger \
    && useradd --system --uid 10001 --gid tagger --home-dir /var/lib/tagger \
       --no-create-home --shell /usr/sbin/nologin tagger \
    && mkdir -p /etc/tagger /var/lib/tagger \
    && chown tagger:tagger /var/lib/tagger \
    && chmod 0700 /var/lib/tagger
COPY --from=build /opt/tagger /opt/tagger
# TAGGER_CONFIG: every command (the health check's `tagger status --check` included) reads
# this config unless -c names another. STATE_DIRECTORY: what {state_directory: NAME} in the
# config means, as under systemd.
ENV PATH=/opt/tagger/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TAGGER_CONFIG=/etc/tagger/config.yaml \
    STATE_DIRECTORY=/var/lib/tagger
# The node's local state (SQLite ledger, or with PostgreSQL the audit file and pause
# marker); the config and rules are mounted read-only at /etc/tagger.
VOLUME ["/var/lib/tagger"]
WORKDIR /var/lib/tagger
USER 10001:10001
# Logs are JSON lines on stdout (logging.format: auto picks json without a terminal).
# SIGTERM lets the running cycle finish its current message and records state: give the
# container time to stop (docker stop -t 90, Compose stop_grace_period: 90s).
STOPSIGNAL SIGTERM
# Healthy while `tagger status --check` says OK (0) or WARNING (1): a warning (a paused rule,
# the kill switch, a backlog) is nothing a restart mends. CRITICAL (2) and UNKNOWN (3: the
# config or the state cannot be read) are unhealthy (Docker's 1). It runs in the container
# as the daemon does, so it has what it needs: the config (TAGGER_CONFIG), the secrets the
# config names (environment, /run/secrets) and the state (this volume, or PostgreSQL).
# Before the first cycle ends it warns "no completed cycle recorded" (healthy); the start
# period covers loading the config and opening the state. Docker keeps the line it prints
# (docker inspect --format '{{json .State.Health}}').
HEALTHCHECK --interval=60s --timeout=30s --start-period=2m --retries=3 \
    CMD tagger status --check; test $? -le 1
ENTRYPOINT ["tagger"]
CMD ["run", "--config", "/etc/tagger/config.yaml"]
