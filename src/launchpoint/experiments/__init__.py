"""Experiments: assignment, rollout, exposure attribution, analysis and the simulator."""
