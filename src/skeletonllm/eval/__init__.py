"""Evaluation: recognition, captioning, QA, cross-format transfer, tables and plots."""
