import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # training_standins, also for subprocesses / spawn
