"""Evaluation: run systems x recordings x tasks (x repeats), score them (WER/CER, a rubric judge), report."""
