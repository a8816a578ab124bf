"""Save and restore a PyTorch model and optimizer through Hyperion's checkpoint folders.

``save_checkpoint`` writes ``checkpoint.pt`` into ``hyperion.checkpoint_dir()``: the step reached, the model's and
optimizer's state, and the random number generators (torch's global one and any torch.Generator you pass), so a
restored run continues exactly where the saved one stopped. The file is written beside its final name and renamed
into place: a trial killed while saving leaves the previous checkpoint, never half of one.

``restore_checkpoint`` loads from ``hyperion.restore_from()``: a retried trial's own last checkpoint, or its
parent's in beam search and population-based training. The optimizer's moments carry over, but its
hyperparameters (learning rate, weight decay, momentum...) stay this trial's own: a branch that changed the
learning rate trains with the new one. It returns the step to continue after, 0 when there is nothing to restore.

Imported lazily by ``hyperion.save_checkpoint`` / ``hyperion.restore_checkpoint``; only these need torch.
"""

import os

FILE = "checkpoint.pt"


def save_checkpoint(step, model, optimizer=None, generators=()):
    """Saves the state after ``step`` (an int: the epochs or iterations completed). Returns the file's path."""
    import torch

    from hyperion import checkpoint_dir

    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError("step must be a whole number >= 0, got %r" % (step,))
    state = {
        "step": step,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "torch_rng": torch.get_rng_state(),
        "generators": [g.get_state() for g in generators],
    }
    path = os.path.join(checkpoint_dir(), FILE)
    partial = path + ".partial"
    torch.save(state, partial)
    os.replace(partial, path)
    return path


def restore_checkpoint(model, optimizer=None, generators=()):
    """Restores from ``hyperion.restore_from()`` when Hyperion names a checkpoint; returns the step it had reached,
    or 0 when there is none. Raises ValueError, naming the file, for a folder without a readable checkpoint."""
    import torch

    from hyperion import restore_from

    folder = restore_from()
    if not folder:
        return 0
    path = os.path.join(folder, FILE)
    try:
        state = torch.load(path, map_location="cpu")
    except FileNotFoundError:
        raise ValueError("no %s in %s: the checkpoint to restore was not saved with save_checkpoint()"
                         % (FILE, folder)) from None
    except Exception as e:  # torch raises several kinds for a damaged file
        raise ValueError("cannot read checkpoint %s: %s" % (path, e)) from None
    if not isinstance(state, dict) or "step" not in state or "model" not in state:
        raise ValueError("%s is not a checkpoint written by hyperion.save_checkpoint()" % path)
    model.load_state_dict(state["model"])
    if optimizer is not None and state.get("optimizer") is not None:
        own = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
        optimizer.load_state_dict(state["optimizer"])
        for group, settings in zip(optimizer.param_groups, own):
            group.update(settings)
    torch.set_rng_state(state["torch_rng"])
    saved = state.get("generators", [])
    if len(saved) != len(generators):
        raise ValueError("%s holds %d generator state(s) but %d generator(s) were given"
                         % (path, len(saved), len(generators)))
    for generator, s in zip(generators, saved):
        generator.set_state(s)
    return state["step"]
