"""Process reward model, in the order of its data flow:

    label    line labels by binary search for the first line after which no completion passes
    collect  the prm_collect stage: sample from the RL baseline's checkpoints and label the lines
    data     the labelled-data file (labels.jsonl) every later step reads, and its counts
    select   the prm_select stage: the data selection strategies of the PRM paper's Table 2
    train    the prm_train stage: a scalar head fit to the labels at line-end tokens
    use      the PRM in RL: DenseReward (per-line reward) and ValueInit (critic initialisation)

Importing this package imports no model code; import the submodules.
"""
