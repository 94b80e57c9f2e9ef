"""Evaluation: predict, verify, report, with resumable stores."""
