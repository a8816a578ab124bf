#!/usr/bin/python3
"""A PyTorch MLP on scikit-learn's digits (1797 real 8x8 handwritten digits, no download).

Hyperparameters come from the command line, so the script runs the same by hand
and under Hyperion (see hyperion.yaml). Each epoch it reports val_acc, val_loss
and train_loss through the hyperion client, and stops early when asked to.

    /usr/bin/python3 train.py --lr 3e-3 --width 256 --depth 2 --dropout 0.1 --batch-size 64

The learning rate follows a cosine decay over --epochs (--schedule constant turns it off),
so the last report, which is the trial's value, is a settled one.

With --checkpoint it saves model, optimizer and RNG state after every epoch into
hyperion.checkpoint_dir() (hyperion.save_checkpoint); when Hyperion sets HYPERION_RESTORE_FROM it resumes
from the checkpoint there (its own earlier attempt's, or the parent's in a beam,
PBT or evolution run) and trains on. Under a config with `training: {unit:
epochs, max: N}` the trial trains only its span, hyperion.budget() = (from, to);
--epochs must then be N, so the learning-rate schedule spans the whole run.
"""

import argparse
import math
import os
import sys

try:
    import hyperion
except ImportError:  # run by hand: use the client in this repository
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(_here, os.pardir, os.pardir, "clients", "python"))
    import hyperion

# One core per trial (trials run side by side), also for a BLAS library that would start its own threads.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lr", type=float, default=3e-3, help="learning rate")
    p.add_argument("--weight-decay", type=float, default=0.0, help="L2 penalty (decoupled for adamw)")
    p.add_argument("--width", type=int, default=256, help="units per hidden layer")
    p.add_argument("--depth", type=int, default=2, help="number of hidden layers")
    p.add_argument("--dropout", type=float, default=0.1, help="dropout after each hidden layer")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], default="adam", help="sgd uses momentum 0.9")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--schedule", choices=["cosine", "constant"], default="cosine",
                   help="cosine: the learning rate decays from --lr towards 0 at --epochs")
    p.add_argument("--seed", type=int, default=0, help="model initialisation and batch order")
    p.add_argument("--checkpoint", action="store_true", help="save a checkpoint after every epoch")
    args = p.parse_args(argv)
    if args.width < 1 or args.depth < 0 or args.batch_size < 1 or args.epochs < 0:
        p.error("--width and --batch-size must be positive, --depth and --epochs non-negative")
    if not 0.0 <= args.dropout < 1.0:
        p.error("--dropout must be in [0, 1)")
    return args


def load_data():
    """A fixed stratified 80/20 split (independent of --seed), standardised with training statistics."""
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    mean = x_tr.mean(axis=0)
    # Pixels run 0..16. Those (near the border) that barely vary in training would be blown up to
    # huge values by a tiny std, so the std is taken as at least one grey level.
    std = np.maximum(x_tr.std(axis=0), 1.0)
    to_x = lambda a: torch.tensor((a - mean) / std, dtype=torch.float32)  # noqa: E731
    to_y = lambda a: torch.tensor(a, dtype=torch.long)  # noqa: E731
    return to_x(x_tr), to_y(y_tr), to_x(x_va), to_y(y_va)


def make_model(args):
    layers, inputs = [], 64
    for _ in range(args.depth):
        layers += [nn.Linear(inputs, args.width), nn.ReLU(), nn.Dropout(args.dropout)]
        inputs = args.width
    layers.append(nn.Linear(inputs, 10))
    return nn.Sequential(*layers)


def make_optimizer(args, model):
    if args.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.weight_decay)
    if args.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(1)  # trials run side by side, one core each
    torch.manual_seed(args.seed)
    shuffle = torch.Generator().manual_seed(args.seed)

    x_tr, y_tr, x_va, y_va = load_data()
    model = make_model(args)
    optimizer = make_optimizer(args, model)
    loss_fn = nn.CrossEntropyLoss()

    # Model, optimizer moments (with this trial's own learning rate and weight decay), dropout and batch-order RNGs.
    start = hyperion.restore_checkpoint(model, optimizer, generators=[shuffle])
    if start:
        print("restored from %s at epoch %d" % (hyperion.restore_from(), start), flush=True)
        if start >= args.epochs:
            print("the checkpoint is already at --epochs %d: nothing to train" % args.epochs, flush=True)
    end = args.epochs
    span = hyperion.budget()
    if span:
        end = min(int(round(span[1])), args.epochs)
        if start != int(round(span[0])):
            print("starting at epoch %d for the span %g-%g" % (start, span[0], span[1]), flush=True)

    for epoch in range(start + 1, end + 1):
        if args.schedule == "cosine":  # a function of the epoch alone, so a restored run follows the same curve
            for group in optimizer.param_groups:
                group["lr"] = args.lr * 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / args.epochs))
        model.train()
        total, seen = 0.0, 0
        for idx in torch.randperm(len(x_tr), generator=shuffle).split(args.batch_size):
            optimizer.zero_grad()
            loss = loss_fn(model(x_tr[idx]), y_tr[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        train_loss = total / seen

        model.eval()
        with torch.no_grad():
            logits = model(x_va)
            val_loss = loss_fn(logits, y_va).item()
            val_acc = (logits.argmax(dim=1) == y_va).sum().item() / len(y_va)

        hyperion.report(epoch, val_acc=val_acc, val_loss=val_loss, train_loss=train_loss)
        if args.checkpoint:
            hyperion.save_checkpoint(epoch, model, optimizer, generators=[shuffle])
        if not math.isfinite(train_loss):
            print("training diverged at epoch %d" % epoch, file=sys.stderr, flush=True)
            break
        if hyperion.should_stop():
            print("stopped by hyperion after epoch %d" % epoch, flush=True)
            break


if __name__ == "__main__":
    main()
