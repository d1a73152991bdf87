import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))  # training_standins, also for subprocesses / spawn

# The tests' tensors are tiny: one intra-op thread is faster (much faster on a busy machine, where
# OpenMP threads wait for each other) and changes no result the tests check.
torch.set_num_threads(1)
