"""Reinforcement learning from unit-test feedback: the loop (``loop``), its set-up and
checkpoints (``state``), batching (``batch``), the step-time breakdown (``clock``) and the RL
stages (``stages``). The algorithms are in ``prmlab.algos``; the PRM's use as reward and critic in
``prmlab.prm.use``."""
