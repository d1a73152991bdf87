"""clusterface: face embeddings by joint label classification and supervised contrastive clustering."""

__version__ = "0.1.0"
