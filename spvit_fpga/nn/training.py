"""The training loop of ``python -m spvit_fpga.train`` (:class:`Trainer`) and its set-up helpers.

Stages of the recipe:

1. ``--no-prune``: plain training of the backbone (the teacher of stage 2).
2. SPViT (default): selectors on, optionally from an unpruned checkpoint (``--init``) that also
   serves as the teacher. Phase A trains the selectors with hard Gumbel decisions (backbone frozen
   for ``--freeze-epochs``); the loss is CE + 2.0 keep-ratio loss (or the computation-aware MAC
   loss with ``--target-gmacs``) + 0.5 KL(teacher logits) + 0.5 MSE(kept tokens, teacher tokens).
   Phase B (``--det-epochs``) calibrates the per-stage thresholds tau so the deterministic rule
   ``sum_h w_h (s_keep - s_prune) >= tau`` meets the keep targets, freezes the selectors and
   fine-tunes the backbone under exactly the decisions inference will make; tau is recalibrated
   every epoch and the epoch with the best validation accuracy is kept.
3. QAT (``--qat``): the same loop on the fake-quant model.  What differs (building the student and
   teacher, a fresh model of the same kind, the checkpoint writer, the frozen formats in
   ``last.pt``) is a :class:`ModelKind`; this module knows only the float one, and
   :class:`spvit_fpga.quant.training.QatKind` is passed in by the command (nn does not import quant).

Runs unchanged under ``torchrun --nproc_per_node=N`` (DDP; gloo on CPU).
"""
from __future__ import annotations

import json
import math
import random
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler
from tqdm.auto import tqdm

from ..errors import UserError
from .checkpoint import PretrainedLoad, load_checkpoint, load_pretrained_deit, load_torch_file, save_checkpoint
from .config import MODELS, ModelConfig, model_config
from .data import dataset_fingerprint, head_subset, load_dataset, random_shift
from .distributed import DistInfo, barrier, broadcast_
from .evaluation import EvalResult, calibrate_thresholds, evaluate_masked
from .macs import model_macs, ratios_for_budget, unpruned_macs
from .model import SPViT

__all__ = ["ModelKind", "Trainer", "seed_everything", "resolve_config", "build_student_and_teacher", "keep_ratio_loss",
           "budget_loss"]

LATENCY_ROUNDS = 4
"""Rounds of :meth:`Trainer.meet_latency_target` (each one threshold calibration)."""
LATENCY_TOLERANCE = 0.002
"""Relative distance from ``--target-ms`` at which the calibration stops."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


# --------------------------------------------------------------------------------------------
# model set-up
# --------------------------------------------------------------------------------------------
def resolve_config(args, splits, init_cfg: ModelConfig | None) -> ModelConfig:
    base = init_cfg if init_cfg is not None else model_config(args.model)
    if init_cfg is None:
        base = base.with_data(splits.in_chans, splits.num_classes, img_size=splits.image_size)
    elif (init_cfg.in_chans, init_cfg.num_classes) != (splits.in_chans, splits.num_classes):
        raise UserError(
            f"--init checkpoint expects {init_cfg.in_chans} channels / {init_cfg.num_classes} classes, "
            f"data set {splits.name} has {splits.in_chans} / {splits.num_classes}; use the data set it was trained on"
        )
    if args.no_prune:
        return base.unpruned()
    default = model_config(base.name) if base.name in MODELS else base
    blocks = args.selector_blocks or base.selector_blocks or default.selector_blocks
    ratios = args.keep_ratios or (base.keep_ratios if base.selector_blocks == blocks else ()) or default.keep_ratios
    if not blocks:
        raise UserError("no selector placement: give --selector-blocks (e.g. 3,6,9) and --keep-ratios")
    cfg = replace(base, selector_blocks=blocks, keep_ratios=ratios)
    if args.target_gmacs is not None:
        check_budget(cfg, args.target_gmacs)
    return cfg


def check_budget(cfg: ModelConfig, target_gmacs: float) -> None:
    """``--target-gmacs`` must lie between the cost with every patch token pruned at every stage and
    the unpruned model's cost (outside, the budget loss cannot be met and only grows)."""
    lo = model_macs(cfg, [0] * cfg.num_stages) / 1e9
    hi = unpruned_macs(cfg) / 1e9
    if not lo <= target_gmacs <= hi:
        raise UserError(f"--target-gmacs {target_gmacs:g} is outside what {cfg.name} can cost: {lo:.5g} GMACs "
                        f"(every patch token pruned at stage 1) to {hi:.5g} GMACs (unpruned); choose a budget in "
                        "that range")


def build_student_and_teacher(args, cfg: ModelConfig, init, splits=None) -> tuple[SPViT, SPViT | None, PretrainedLoad | None]:
    """The student, its teacher (None: no distillation) and what loading ``--pretrained`` changed.

    ``--pretrained``: the student's backbone is the DeiT; with selectors, the teacher is a frozen
    dense copy of that backbone (as in the official code).  ``--init``: the checkpoint's backbone,
    and the checkpoint as the teacher."""
    model = SPViT(cfg)
    teacher = None
    loaded = None
    if args.pretrained:
        frac = splits.input_frac_bits if splits is not None else 8
        loaded = load_pretrained_deit(args.pretrained, model, input_frac_bits=frac)
        if cfg.prunes:
            teacher = SPViT(cfg.unpruned())
            teacher.load_state_dict(_backbone_state(model), strict=False)
            teacher.eval().requires_grad_(False)
    if init is not None:
        backbone = {k: v for k, v in init.state_dict.items() if not k.startswith("selectors.") and k != "tau"}
        model.load_state_dict(backbone, strict=False)
        if cfg.prunes and init.config.selector_blocks == cfg.selector_blocks:
            # Continuing an SPViT model: keep its selectors too.
            model.load_state_dict(init.state_dict)
        if cfg.prunes:
            teacher = SPViT(init.config.unpruned())
            teacher.load_state_dict(backbone, strict=False)
            teacher.eval().requires_grad_(False)
    return model, teacher, loaded


def _backbone_state(model: SPViT) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith("selectors.") and k != "tau"}


def keep_ratio_loss(kept: torch.Tensor, num_patches: int, ratios, form: str = "batch") -> torch.Tensor:
    """Keep-ratio term for kept counts ``[B, S]``: ``mean_s (mean_b kept/N - rho_s)^2`` (``batch``, the
    official code's) or ``mean_{b,s} (kept/N - rho_s)^2`` (``image``, DynamicViT's form)."""
    ratio = kept / num_patches
    if form == "batch":
        ratio = ratio.mean(0)
    return ((ratio - torch.tensor(ratios, dtype=kept.dtype)) ** 2).mean()


def budget_loss(cost: torch.Tensor, target: float, form: str = "batch") -> torch.Tensor:
    """Budget term for per-image costs ``[B]`` (GMACs or ms): ``(mean_b cost / target - 1)^2`` (``batch``)
    or ``mean_b (cost / target - 1)^2`` (``image``)."""
    rel = (cost.mean() if form == "batch" else cost) / target - 1.0
    return (rel**2).mean()


class ModelKind:
    """The kind of model a :class:`Trainer` trains: the float SPViT.  A subclass changes how the
    student and teacher are built, how a fresh model of the same kind is made (to hold the best
    state), how the checkpoint is written and which extra state ``last.pt`` keeps (key ``quant``)."""

    name = "float"
    pretrained: Optional[PretrainedLoad] = None  # set by build when --pretrained was loaded

    def build(self, args, cfg: ModelConfig, init, splits) -> tuple[SPViT, Optional[SPViT]]:
        model, teacher, self.pretrained = build_student_and_teacher(args, cfg, init, splits)
        return model, teacher

    def fresh_model(self, model: SPViT, cfg: ModelConfig) -> SPViT:
        return SPViT(cfg)

    def save_checkpoint(self, path: Path, model: SPViT, dataset: dict, **meta: Any) -> None:
        save_checkpoint(path, model, dataset, **meta)

    def resume_state(self, model: SPViT) -> Any:
        """Extra state of ``model`` for ``last.pt`` (None: nothing beyond the state_dict)."""
        return None

    def load_resume_state(self, model: SPViT, cfg: ModelConfig, state: Any) -> None:
        if state is not None:
            raise UserError("last.pt belongs to a quantisation-aware run; resume it with --qat")


# --------------------------------------------------------------------------------------------
# resuming
# --------------------------------------------------------------------------------------------
RUN_FILES = ("checkpoint.pt", "last.pt", "last.pt.tmp", "train_log.json")  # what a run writes into --out
RESUME_KEYS = ("config", "model", "optimizer", "epoch", "best", "ratio_ema", "log", "rng", "aug_rng")
# flags that may change between a run and its --resume (they do not change what is trained)
RESUME_FREE_FLAGS = frozenset({"resume", "force", "quiet", "stop_after", "debug", "out"})


def run_flags(args) -> dict[str, Any]:
    """The flags of a run that a ``--resume`` must repeat (tuples as lists, as they load back)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in sorted(vars(args).items())
            if k not in RESUME_FREE_FLAGS}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_resume_flags(saved: dict[str, Any], args, path: Path) -> None:
    """UserError naming every flag whose value differs from the run saved in ``path``."""
    now = run_flags(args)
    diffs = [f"{_flag(k)} {now.get(k)!r} (saved run: {saved.get(k)!r})"
             for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k)]
    if diffs:
        raise UserError(f"--resume: the flags differ from the run saved in {path}: {'; '.join(diffs)}; "
                        "repeat the saved flags, or start over with --force")


def read_resume_state(path: Path, args) -> dict[str, Any]:
    """``OUT/last.pt`` loaded without running code (``weights_only``), checked for the keys a
    resume needs and for the flags of the saved run (:func:`check_resume_flags`)."""
    if not path.is_file():
        raise UserError(f"--resume: {path} does not exist; start without --resume")
    st = load_torch_file(path, "the state of an interrupted run")
    if not isinstance(st, dict) or any(k not in st for k in RESUME_KEYS):
        missing = [k for k in RESUME_KEYS if not isinstance(st, dict) or k not in st]
        raise UserError(f"--resume: {path} is not the state of a training run (no {', '.join(missing)}); "
                        "start over with --force or choose another --out")
    if "args" in st:
        check_resume_flags(st["args"], args, path)
    return st


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
LatencyModel = Callable[[ModelConfig], Any]
"""A function from a model config to its latency table on the target board (the command builds it
from :func:`spvit_fpga.hw.overlay.latency.latency_table`; nn does not import hw).  The table answers
``ms_torch(kept [B,S])`` (differentiable), ``ms(kept)``, ``images_ms(kept [M,S])``, ``cycles(kept)``,
``board``, ``num_stages`` and ``num_patches``."""


class Trainer:
    def __init__(self, args, info: DistInfo, kind: Optional[ModelKind] = None,
                 latency: Optional[LatencyModel] = None) -> None:
        self.args, self.info = args, info
        self.kind = kind or ModelKind()
        self.out = Path(args.out)
        # Read last.pt and compare the flags before the data and the models are built.
        resume = read_resume_state(self.out / "last.pt", args) if args.resume else None
        init = load_checkpoint(args.init) if args.init else None
        if init and args.img_size and args.img_size != init.config.img_size:
            raise UserError(f"--img-size {args.img_size}: the --init checkpoint takes {init.config.img_size} px images; "
                            "drop --img-size")
        image_size = init.config.img_size if init else (args.img_size or model_config(args.model).img_size)
        spec = args.dataset or (init.dataset.get("spec") if init else None) or "digits"
        self.splits = load_dataset(spec, image_size=image_size)
        if args.train_subset is not None:
            self.splits.train = head_subset(self.splits.train, args.train_subset)
        seed_everything(args.seed)
        self.cfg = resolve_config(args, self.splits, init.config if init else None)
        self.model, self.teacher = self.kind.build(args, self.cfg, init, self.splits)
        pretrained: Optional[PretrainedLoad] = getattr(self.kind, "pretrained", None)
        new_head = pretrained is not None and pretrained.head_replaced
        # Token-level distillation needs a teacher that keeps every token; a teacher whose head was
        # never trained on these classes has nothing to say about the logits.
        self.teacher_tokens = self.teacher is not None and not self.teacher.cfg.prunes
        self.teacher_logits = self.teacher is not None and not new_head
        notes = list(pretrained.notes) if pretrained else []
        if self.teacher is not None and new_head:
            notes.append("the teacher (the dense DeiT) has no head for these classes: logit distillation (KL) off, "
                         "token distillation (MSE) on; for both, fine-tune the dense model first (--pretrained "
                         "--no-prune) and start SPViT from it with --init")
        self.latency = latency(self.cfg) if latency is not None else None
        self.latency_unpruned = latency(self.cfg.unpruned()) if latency is not None else None
        if args.target_ms is not None:
            floor = self.latency.ms([0] * self.cfg.num_stages)
            if args.target_ms < floor:
                raise UserError(f"--target-ms {args.target_ms:g} is below the latency of this model on {self.latency.board} "
                                f"with every token pruned ({floor:.4f} ms); the unpruned model takes "
                                f"{self.latency_unpruned.ms([]):.4f} ms")
        if info.is_main:
            for note in notes:
                print(f"note: {note}", file=sys.stderr)
        e = args.epochs
        if args.qat:
            self.det_epochs = e if args.det_epochs is None else min(args.det_epochs, e)
            self.freeze_epochs = 0 if args.freeze_epochs is None else args.freeze_epochs
        elif self.cfg.prunes:
            self.det_epochs = e // 2 if args.det_epochs is None else min(args.det_epochs, e)
            self.freeze_epochs = (1 if init or args.pretrained else 0) if args.freeze_epochs is None else args.freeze_epochs
        else:
            self.det_epochs, self.freeze_epochs = 0, 0
        self.gumbel_epochs = e - self.det_epochs
        self.shift = args.augment_shift if args.augment_shift is not None else self.cfg.img_size // 16
        # A head new to this data set learns at the full rate, never frozen, like the selectors.
        heads = {id(p) for p in self.model.head.parameters()} if new_head else set()
        groups = [
            {"params": [p for p in self.model.backbone_parameters() if id(p) not in heads], "name": "backbone"},
            {"params": self.model.selector_parameters(), "name": "selectors"},
            {"params": list(self.model.head.parameters()) if new_head else [], "name": "head"},
        ]
        self.optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=args.lr, weight_decay=args.weight_decay)
        self.ddp = (
            DistributedDataParallel(self.model, find_unused_parameters=True) if info.enabled else self.model
        )
        sampler_gen = torch.Generator().manual_seed(args.seed)
        self.sampler = (
            DistributedSampler(self.splits.train, info.world_size, info.rank, shuffle=True, seed=args.seed)
            if info.enabled
            else RandomSampler(self.splits.train, generator=sampler_gen)
        )
        self.loader = DataLoader(self.splits.train, batch_size=args.batch_size, sampler=self.sampler, drop_last=False)
        self.steps_per_epoch = max(1, len(self.loader))
        self.in_memory = isinstance(getattr(self.splits.train, "images", None), torch.Tensor)
        self.aug_gen = torch.Generator().manual_seed(args.seed * 1000 + info.rank)
        self.ratio_ema: list[float] = list(self.cfg.keep_ratios)
        self.start_epoch = 0
        self.best = {"val_accuracy": -1.0, "epoch": -1, "state": None, "tau": None}
        self.log: list[dict] = []
        if resume is not None:
            self._resume(resume)

    # --- schedule ----------------------------------------------------------------------
    def lr_at(self, epoch: float) -> float:
        a = self.args
        if epoch < a.warmup_epochs:
            return a.lr * (epoch + 1e-3) / a.warmup_epochs
        t = (epoch - a.warmup_epochs) / max(1e-9, a.epochs - a.warmup_epochs)
        return 1e-6 + 0.5 * (a.lr - 1e-6) * (1 + math.cos(math.pi * min(1.0, t)))

    def set_lr(self, epoch: float, phase: str) -> None:
        """Selectors (and a new head): the cosine schedule.  Backbone: frozen for ``--freeze-epochs``
        of phase A, then ``min(schedule, backbone_lr_scale * lr)`` (the official rule with 0.01).
        Phase B freezes the selectors."""
        lr = self.lr_at(epoch)
        for g in self.optimizer.param_groups:
            if g["name"] == "backbone":
                frozen = phase == "gumbel" and epoch < self.freeze_epochs
                g["lr"] = 0.0 if frozen else min(lr, self.args.backbone_lr_scale * self.args.lr)
            elif g["name"] == "selectors":
                g["lr"] = 0.0 if phase == "det" else lr
            else:
                g["lr"] = lr

    # --- losses ------------------------------------------------------------------------
    def loss(self, x, y, phase: str):
        a, cfg = self.args, self.cfg
        decision = {"plain": None, "gumbel": "gumbel", "det": "threshold"}[phase]
        out = self.ddp(x, decision=decision) if decision else self.ddp(x)
        loss = F.cross_entropy(out.logits, y, label_smoothing=a.label_smoothing)
        parts = {"ce": loss.item()}
        if phase == "gumbel":
            n = cfg.num_patches
            kept = out.kept_counts()  # [B, S], straight-through gradients
            cost, target = None, None
            if a.target_ms is not None:
                cost, target = self.latency.ms_torch(kept), a.target_ms  # [B] ms on the board
                parts["train_latency_ms"] = cost.mean().item()
            elif a.target_gmacs:
                cost, target = model_macs(cfg, [kept[:, s] for s in range(cfg.num_stages)]) / 1e9, a.target_gmacs
            if cost is not None:
                budget = budget_loss(cost, target, a.ratio_loss)
            else:
                budget = keep_ratio_loss(kept, n, cfg.keep_ratios, a.ratio_loss)
            loss = loss + a.ratio_weight * budget
            parts["budget"] = budget.item()
            means = (kept.detach() / n).mean(0).tolist()
            self.ratio_ema = [0.9 * e + 0.1 * m for e, m in zip(self.ratio_ema, means)]
        if self.teacher is not None and phase in ("gumbel", "det"):
            with torch.no_grad():
                t_out = self.teacher(x, decision="threshold") if self.teacher.cfg.prunes else self.teacher(x)
            if self.teacher_logits:
                kl = F.kl_div(F.log_softmax(out.logits, -1), F.log_softmax(t_out.logits, -1), log_target=True, reduction="batchmean")
                loss = loss + a.kl_weight * kl
                parts["kl"] = kl.item()
            if self.teacher_tokens:
                n = cfg.num_patches
                mask = out.policy[:, :, None]
                diff = (out.tokens[:, 1 : 1 + n] - t_out.tokens[:, 1 : 1 + n]) ** 2
                mse = (diff * mask).sum() / (mask.sum() * diff.shape[-1]).clamp(min=1.0)
                loss = loss + a.mse_weight * mse
                parts["mse"] = mse.item()
        return loss, parts

    def train_epoch(self, epoch: int, phase: str, bar) -> dict:
        """One epoch; a second progress line (below ``bar``, the epochs) counts its batches."""
        self.ddp.train()
        if isinstance(self.sampler, DistributedSampler):
            self.sampler.set_epoch(epoch)
        totals: dict[str, float] = {}
        steps = tqdm(total=self.steps_per_epoch, desc=f"epoch {epoch + 1}/{self.args.epochs} ({phase})", unit="batch",
                     leave=False, disable=bar.disable)
        for step, (x, y) in enumerate(self.batches()):
            self.set_lr(epoch + step / self.steps_per_epoch, phase)
            if self.shift:
                x = random_shift(x, self.shift, self.aug_gen)
            loss, parts = self.loss(x, y, phase)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
            self.optimizer.step()
            for k, v in parts.items():
                totals[k] = totals.get(k, 0.0) + v
            steps.update(1)
            steps.set_postfix(loss=f"{parts['ce']:.3f}", refresh=False)
        steps.close()
        return {k: v / self.steps_per_epoch for k, v in totals.items()}

    def batches(self):
        """Training batches; in-memory data sets are indexed directly (same sampler order)."""
        if not self.in_memory:
            yield from self.loader
            return
        order = torch.tensor(list(iter(self.sampler)), dtype=torch.long)
        images, labels = self.splits.train.images, self.splits.train.labels
        for i in range(0, len(order), self.args.batch_size):
            idx = order[i : i + self.args.batch_size]
            yield images[idx], labels[idx]

    # --- validation / selection ----------------------------------------------------------
    def validate(self, phase: str) -> EvalResult:
        if phase == "det":
            calibrate_thresholds(self.model, self.splits.train, self.cfg.keep_ratios)
            broadcast_(self.model.tau, self.info)
            return evaluate_masked(self.model, self.splits.val, "threshold")
        decision = "topk" if phase == "gumbel" else None
        return evaluate_masked(self.model, self.splits.val, decision)

    def maybe_keep_best(self, epoch: int, phase: str, acc: float) -> None:
        selectable = phase in ("plain", "det") or self.det_epochs == 0
        # Ties go to the later epoch: with a cosine schedule it has seen more training.
        if selectable and acc >= self.best["val_accuracy"]:
            self.best = {
                "val_accuracy": acc,
                "epoch": epoch,
                "state": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
                "tau": self.model.tau.tolist(),
            }

    def phase_of(self, epoch: int) -> str:
        if not self.cfg.prunes:
            return "plain"
        return "gumbel" if epoch < self.gumbel_epochs else "det"

    def enter_det_phase(self) -> None:
        """Fix the keep ratios (computation- and latency-aware runs: from the learned profile, scaled
        to the budget) and calibrate the thresholds before the first deterministic epoch."""
        a = self.args
        if a.target_ms is not None:
            self.set_keep_ratios(ratios_for_budget(self.cfg, self.ratio_ema, a.target_ms, cost=self.latency.ms))
            self.meet_latency_target()
        elif a.target_gmacs:
            self.set_keep_ratios(ratios_for_budget(self.cfg, self.ratio_ema, a.target_gmacs * 1e9))
        else:
            self.calibrate()

    def set_keep_ratios(self, ratios) -> None:
        self.cfg = replace(self.cfg, keep_ratios=tuple(ratios))
        self.model.cfg = self.cfg
        self.calibrate()

    def calibrate(self) -> None:
        calibrate_thresholds(self.model, self.splits.train, self.cfg.keep_ratios)
        broadcast_(self.model.tau, self.info)

    def meet_latency_target(self) -> None:
        """The thresholds keep the mean kept count per stage, but the mean latency over images is not
        quite the latency of the mean counts (attention grows with the square of the tokens and
        images keep different counts): measure it on the training split under the calibrated
        thresholds and rescale the profile until it is within :data:`LATENCY_TOLERANCE`."""
        a, floor = self.args, self.latency.ms([0] * self.cfg.num_stages)
        goal = a.target_ms
        for _ in range(LATENCY_ROUNDS):
            ms = float(self.latency.images_ms(evaluate_masked(self.model, self.splits.train, "threshold").kept).mean())
            if abs(ms / a.target_ms - 1.0) <= LATENCY_TOLERANCE:
                return
            goal = max(goal * a.target_ms / ms, floor)
            self.set_keep_ratios(ratios_for_budget(self.cfg, self.ratio_ema, goal, cost=self.latency.ms))

    def latency_stats(self, res: EvalResult) -> dict[str, float]:
        ms = self.latency.images_ms(res.kept)
        return {"latency_ms": float(ms.mean()), "latency_ms_p99": float(np.percentile(ms, 99))}

    # --- persistence -----------------------------------------------------------------------
    def _resume(self, st: dict) -> None:
        """Restore the state :func:`read_resume_state` read from ``OUT/last.pt``."""
        try:
            self.cfg = ModelConfig.from_dict(st["config"])
            self.model.cfg = self.cfg
            self.kind.load_resume_state(self.model, self.cfg, st.get("quant"))
            self.model.load_state_dict(st["model"])
            self.optimizer.load_state_dict(st["optimizer"])
            self.start_epoch = int(st["epoch"]) + 1
            self.best = st["best"]
            self.ratio_ema = list(st["ratio_ema"])
            self.log = list(st["log"])
            torch.set_rng_state(st["rng"])
            self.aug_gen.set_state(st["aug_rng"])
            if isinstance(self.sampler, RandomSampler):
                self.sampler.generator.set_state(st["sampler_rng"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"--resume: {self.out / 'last.pt'} does not fit this run ({detail}); "
                            "start over with --force or choose another --out") from None

    def save_last(self, epoch: int) -> None:
        state = {
            "args": run_flags(self.args),
            "config": self.cfg.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": epoch,
            "best": self.best,
            "ratio_ema": self.ratio_ema,
            "log": self.log,
            "rng": torch.get_rng_state(),
            "aug_rng": self.aug_gen.get_state(),
            "sampler_rng": self.sampler.generator.get_state() if isinstance(self.sampler, RandomSampler) else None,
            "quant": self.kind.resume_state(self.model),
        }
        tmp = self.out / "last.pt.tmp"
        torch.save(state, tmp)
        tmp.replace(self.out / "last.pt")

    def save_best(self, seconds: float) -> dict:
        model = self.kind.fresh_model(self.model, self.cfg)
        model.load_state_dict(self.best["state"])
        summary = {
            "model": self.cfg.name,
            "dataset": self.splits.spec,
            "seed": self.args.seed,
            "epochs": self.args.epochs,
            "best_epoch": self.best["epoch"],
            "val_accuracy": self.best["val_accuracy"],
            "prunes": self.cfg.prunes,
            "qat": self.kind.name == "qat",
            "keep_ratios": list(self.cfg.keep_ratios),
            "tau": self.best["tau"],
            "gmacs_unpruned": unpruned_macs(self.cfg) / 1e9,
            "ratio_loss": self.args.ratio_loss,
            "backbone_lr_scale": self.args.backbone_lr_scale,
            "train_seconds": round(seconds, 1),
        }
        if self.latency is not None:
            # the chosen model on the validation split, under the rule inference uses
            res = evaluate_masked(model, self.splits.val, "threshold" if self.cfg.prunes else None)
            summary.update(board=self.latency.board, **self.latency_stats(res), latency_ms_target=self.args.target_ms,
                           latency_ms_unpruned=self.latency_unpruned.ms([]))
        self.kind.save_checkpoint(
            self.out / "checkpoint.pt",
            model,
            dataset_fingerprint(self.splits),
            train_args={k: v for k, v in vars(self.args).items()},
            summary=summary,
            val_accuracy=self.best["val_accuracy"],
        )
        (self.out / "train_log.json").write_text(json.dumps({"summary": summary, "epochs": self.log}, indent=1) + "\n")
        return summary

    # --- main loop ---------------------------------------------------------------------------
    def run(self) -> dict | None:
        a = self.args
        if self.info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            if getattr(a, "force", False):  # --force starts over: no file of the replaced run stays
                for name in RUN_FILES:
                    (self.out / name).unlink(missing_ok=True)
        barrier(self.info)
        t0 = time.time()
        bar = tqdm(total=a.epochs, initial=self.start_epoch, desc="train", disable=a.quiet or not self.info.is_main, unit="ep")
        stop = a.epochs if a.stop_after is None else min(a.epochs, self.start_epoch + a.stop_after)
        for epoch in range(self.start_epoch, stop):
            phase = self.phase_of(epoch)
            if phase == "det" and epoch == self.gumbel_epochs:
                self.enter_det_phase()
            stats = self.train_epoch(epoch, phase, bar)
            bar.set_postfix_str(f"phase {phase}: validating")
            res = self.validate(phase)
            acc = res.accuracy
            self.maybe_keep_best(epoch, phase, acc)
            entry = {"epoch": epoch, "phase": phase, "val_accuracy": round(acc, 4), **{k: round(v, 4) for k, v in stats.items()}}
            if phase == "det":
                entry["tau"] = [round(t, 4) for t in self.model.tau.tolist()]
            if self.latency is not None and phase != "gumbel":  # phase A validates with top-k at the config's ratios
                entry["val_latency_ms"] = round(self.latency_stats(res)["latency_ms"], 6)
            self.log.append(entry)
            bar.set_postfix(phase=phase, loss=f"{stats.get('ce', 0):.3f}", val=f"{acc:.3f}")
            bar.update(1)
            if self.info.is_main:
                self.save_last(epoch)
        bar.close()
        if stop < a.epochs:
            if self.info.is_main:
                print(f"stopped after epoch {stop}; continue with --resume")
            return None
        if self.best["state"] is None:  # e.g. a resumed run that had already finished
            self.maybe_keep_best(a.epochs - 1, "plain", evaluate_masked(self.model, self.splits.val).accuracy)
        summary = self.save_best(time.time() - t0) if self.info.is_main else None
        barrier(self.info)
        return summary
