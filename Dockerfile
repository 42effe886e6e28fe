# The image of every service in docker-compose.yaml: the official Airflow image extended with this
# project's pinned requirements (the whole resolved set, so nothing moves at build time) and code.
# Build: docker compose build   (or docker build --target airflow -t hr-dataverse-airflow .)
# Two targets: `airflow` (every Airflow service; no emulator inside) and `emulator` (the same plus the
# Dataverse emulator, for the compose file's `emulator` profile only).
FROM apache/airflow:3.3.2-python3.11 AS airflow

USER airflow
WORKDIR /opt/airflow/project
COPY --chown=airflow:root requirements.txt ./
# Pinning apache-airflow again keeps pip from moving it (the documented way to extend the image).
RUN pip install --no-cache-dir "apache-airflow==3.3.2" -r requirements.txt

COPY --chown=airflow:root pyproject.toml ./
COPY --chown=airflow:root include ./include
COPY --chown=airflow:root plugins ./plugins
COPY --chown=airflow:root dags ./dags
# Editable, as `make venv` does: the provider entry point registers the "Microsoft Dataverse"
# connection type; the packages are imported from plugins/ and include/ in place.
RUN pip install --no-cache-dir --no-deps --no-build-isolation -e . \
 && mkdir -p /opt/airflow/scratch /opt/airflow/reports /opt/airflow/config /opt/airflow/emulator
WORKDIR /opt/airflow

FROM airflow AS emulator
WORKDIR /opt/airflow/project
COPY --chown=airflow:root emulator ./emulator
RUN pip install --no-cache-dir --no-deps --no-build-isolation -e .
WORKDIR /opt/airflow
