"""The pruning-with-rewind loop (pruning/rounds.py) for seeds trained together.

    outcomes = ensemble.pruning.run([cfg.replace(seed=s) for s in range(42, 53)])

Round by round, each member is prepared exactly as its single run prepares it
(rounds.prepare_round: its own mask, pruned by its own thresholds from its own
previous round; its own rewind point, re-initialisation and pre-training), the
members train that round as one ensemble (each mask stacked as its slice: pruned
weights stay exactly zero in every member), and each member writes its round's
files (rounds.finish_round). Branches follow the trunk the same way. Every member's
run directory is the one its single run writes.
"""
import contextlib
from typing import Dict, List, Optional, Sequence

import keras

from keras_initstudy import datasets, determinism, rundir
from keras_initstudy.ensemble import grouping, runner
from keras_initstudy.pruning import layout, rounds

Outcome = runner.Outcome


def run(cfgs: Sequence, verbose: int = 0, dataset: Optional[datasets.Dataset] = None,
        ensemble_callbacks: Sequence[keras.callbacks.Callback] = ()) -> List[Outcome]:
    """Runs every pruning config (alike but for their seeds); per config, its run
    directory or the error that stopped it."""
    grouping.check_alike(cfgs, "prune")
    outcomes: Dict[int, Outcome] = {}
    todo = []
    for i, cfg in enumerate(cfgs):
        if layout.is_complete(cfg, rundir.path_for(cfg)):
            print(f"run already complete: {rundir.path_for(cfg)}")
            outcomes[i] = rundir.path_for(cfg)
        else:
            todo.append(i)
    if not todo:
        return [outcomes[i] for i in range(len(cfgs))]
    first = cfgs[todo[0]]
    determinism.set_op_determinism(first.training.op_determinism())
    data = runner.member_data(cfgs, todo, dataset)
    per_epoch, end, rewind = rounds.schedule(first, data[todo[0]])
    with contextlib.ExitStack() as locks:
        active = [i for i in runner.lock_all(locks, cfgs, todo, outcomes)
                  if rounds.open_run(cfgs[i], rundir.path_for(cfgs[i]), data[i])]
        for i in set(todo) - set(active) - set(outcomes):
            outcomes[i] = rundir.path_for(cfgs[i])  # finished by the process we waited for
        for r in range(first.pruning.rounds):
            need = [i for i in active if not rundir.is_done(layout.round_dir(rundir.path_for(cfgs[i]), r))]
            _train_round(cfgs, need, r, None, data, per_epoch, end, rewind, verbose, ensemble_callbacks)
        wanted = sorted({p for i in active for p in layout.pending_branches(cfgs[i], rundir.path_for(cfgs[i]))})
        for r, name in wanted:
            need = [i for i in active if (r, name) in layout.pending_branches(cfgs[i], rundir.path_for(cfgs[i]))]
            _train_round(cfgs, need, r, name, data, per_epoch, end, rewind, verbose, ensemble_callbacks)
        for i in active:
            rounds.close_run(rundir.path_for(cfgs[i]))
            outcomes[i] = rundir.path_for(cfgs[i])
    return [outcomes[i] for i in range(len(cfgs))]


def _train_round(cfgs, need, r, branch, data, per_epoch, end, rewind, verbose, ensemble_callbacks) -> None:
    """Round r (or its branch) of the members `need`, as one ensemble."""
    if not need:
        return
    print(f"round {r}{f', branch {branch}' if branch else ''}: {len(need)} runs together")
    keras.backend.clear_session()
    plans = {i: rounds.prepare_round(cfgs[i], rundir.path_for(cfgs[i]), r, data[i], per_epoch, end, rewind, (),
                                     verbose, branch) for i in need}
    members = [runner.Member(plan.cfg, data[i], plan.directory, plan.spec, plan.callbacks, plan.end, plan.start)
               for i, plan in plans.items()]
    runner.train_in_groups(members, per_epoch, verbose, ensemble_callbacks)
    for i, plan in plans.items():
        rounds.finish_round(plan, data[i], per_epoch)
