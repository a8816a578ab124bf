"""Tests of hyperion.save_checkpoint / restore_checkpoint with Debian's PyTorch (/usr/bin/python3)."""

import os
import sys
import tempfile
import unittest
from unittest import mock

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
sys.path.insert(0, os.path.abspath(CLIENT))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import hyperion  # noqa: E402


def trained(lr):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=0.01)
    return model, optimizer


def step(model, optimizer, generator):
    x = torch.randn(16, 4, generator=generator)
    optimizer.zero_grad()
    loss = model(x).pow(2).mean()
    loss.backward()
    optimizer.step()
    return loss.item()


class CheckpointTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERION_")}
        patcher = mock.patch.dict(os.environ, env, clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.parent_dir = os.path.join(self.tmp.name, "parent")
        self.child_dir = os.path.join(self.tmp.name, "child")

    def test_a_restored_run_continues_exactly_and_keeps_its_own_learning_rate(self):
        os.environ["HYPERION_CHECKPOINT_DIR"] = self.parent_dir
        model, optimizer = trained(lr=0.01)
        shuffle = torch.Generator().manual_seed(5)
        for _ in range(3):
            step(model, optimizer, shuffle)
        path = hyperion.save_checkpoint(3, model, optimizer, generators=[shuffle])
        self.assertEqual(path, os.path.join(self.parent_dir, "checkpoint.pt"))
        self.assertEqual(os.listdir(self.parent_dir), ["checkpoint.pt"], "no partial file is left")
        # The parent goes on: this is what the child must reproduce (apart from the learning rate).
        expected_noise = torch.rand(3)
        expected_batch = torch.randn(16, 4, generator=shuffle)

        os.environ["HYPERION_CHECKPOINT_DIR"] = self.child_dir
        os.environ["HYPERION_RESTORE_FROM"] = self.parent_dir
        child, child_optimizer = trained(lr=0.5)
        child_shuffle = torch.Generator().manual_seed(99)
        self.assertEqual(hyperion.restore_checkpoint(child, child_optimizer, generators=[child_shuffle]), 3)
        for a, b in zip(model.state_dict().values(), child.state_dict().values()):
            self.assertTrue(torch.equal(a, b))
        self.assertEqual(child_optimizer.param_groups[0]["lr"], 0.5, "the child's own learning rate")
        self.assertEqual(child_optimizer.param_groups[0]["weight_decay"], 0.01)
        moments = optimizer.state_dict()["state"][0]["exp_avg"]
        self.assertTrue(torch.equal(child_optimizer.state_dict()["state"][0]["exp_avg"], moments))
        self.assertEqual(child_optimizer.state_dict()["state"][0]["step"], optimizer.state_dict()["state"][0]["step"])
        self.assertTrue(torch.equal(torch.rand(3), expected_noise), "torch's RNG continues")
        self.assertTrue(torch.equal(torch.randn(16, 4, generator=child_shuffle), expected_batch))

    def test_nothing_to_restore_is_a_fresh_start(self):
        model, optimizer = trained(lr=0.1)
        before = [p.clone() for p in model.parameters()]
        self.assertEqual(hyperion.restore_checkpoint(model, optimizer), 0)
        for a, b in zip(before, model.parameters()):
            self.assertTrue(torch.equal(a, b))

    def test_a_missing_or_damaged_checkpoint_is_a_clear_error(self):
        os.makedirs(self.parent_dir)
        os.environ["HYPERION_RESTORE_FROM"] = self.parent_dir
        model, optimizer = trained(lr=0.1)
        with self.assertRaisesRegex(ValueError, "no checkpoint.pt in .*parent"):
            hyperion.restore_checkpoint(model, optimizer)
        with open(os.path.join(self.parent_dir, "checkpoint.pt"), "wb") as f:
            f.write(b"not a checkpoint")
        with self.assertRaisesRegex(ValueError, "cannot read checkpoint .*checkpoint.pt"):
            hyperion.restore_checkpoint(model, optimizer)
        torch.save({"weights": 1}, os.path.join(self.parent_dir, "checkpoint.pt"))
        with self.assertRaisesRegex(ValueError, "not a checkpoint written by hyperion.save_checkpoint"):
            hyperion.restore_checkpoint(model, optimizer)

    def test_bad_step(self):
        os.environ["HYPERION_CHECKPOINT_DIR"] = self.parent_dir
        model, optimizer = trained(lr=0.1)
        for bad in (-1, 1.5, True, "3"):
            with self.assertRaises(ValueError):
                hyperion.save_checkpoint(bad, model, optimizer)


if __name__ == "__main__":
    unittest.main()
