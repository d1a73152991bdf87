from clusterface.cli import run

run()
