"""Datasets: download, prepare (parse + normalize -> array store), splits and the synthetic dataset."""
