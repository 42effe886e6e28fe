"""``make bench``: full load, sequential load and delta sync against the emulator with Dataverse's
latency model and service-protection limits, into SQLite and PostgreSQL. See README "Performance".

``run.py`` orchestrates; ``loader.py`` is the loading child process (the sync engine, as the DAG
runs it); ``airflow_overhead.py`` times ``airflow dags test`` against the same load path.
"""
