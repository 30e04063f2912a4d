"""The rollout gate: a run directory and a rollout policy become a verdict for one stage."""
