"""Train a tiny transformer in this session and watch its attention pattern form, snapshot by snapshot."""

import dataclasses

import streamlit as st

from core.train.tasks import TASKS, get_task
from core.train.training import QUICK_START, Trainer, build_model, model_config
from course.markdown_text import escape_markdown
from figures.export import AttentionExport
from figures.heatmap import heatmap_grid
from figures.training import training_curves
from ui.charts import show_figure
from ui.models import TRAINED_KEY, shipped_cards, untrained_snapshot
from ui.settings import get_settings
from ui.shell import page_shell

SLUG = "train_it_yourself"
SPEC, CFG = QUICK_START.spec, QUICK_START.train


def attention_figure(snapshot, task_name: str, title: str):
    """Every layer × head of a snapshot: the cross-attention alignment for seq2seq, else the self-attention."""
    cross = snapshot.cross is not None
    w = snapshot.cross if cross else snapshot.weights  # (L, H, Tq, Tk)
    L, H = w.shape[:2]
    panels = [f"layer {layer} · head {head}" for layer in range(L) for head in range(H)]
    keys = snapshot.source_labels if cross else snapshot.labels
    kind = "cross-attention (decoder → source)" if cross else "self-attention"
    return heatmap_grid(w.reshape(L * H, *w.shape[2:]), keys, snapshot.labels, panels,
                        f"{title}: {kind} on '{''.join(snapshot.labels)}'", cols=H)  # fmt: skip


def snapshot_export(snapshot, run: Trainer, step: int) -> AttentionExport:
    """A snapshot's every layer × head (the figure's weights) for the export panel: CSV, JSON, NPZ, ZIP."""
    cross = snapshot.cross is not None
    return AttentionExport(page=SLUG, model=f"session-{run.task.name}",
                           weights=snapshot.cross if cross else snapshot.weights, query_tokens=tuple(snapshot.labels),
                           key_tokens=tuple(snapshot.source_labels if cross else snapshot.labels),
                           inputs={"step": step, "model": dataclasses.asdict(run.model.config),
                                   "train": dataclasses.asdict(run.cfg)})  # fmt: skip


def curves_figure(history, title: str, total: int):
    return training_curves(history.steps, history.loss, history.token_accuracy, history.exact_match,
                           eval_steps=history.eval_steps, eval_exact_match=history.eval_exact_match, title=title,
                           total_steps=total)  # fmt: skip


settings = get_settings()
lab = page_shell(SLUG)
with lab:
    c1, c2, c3, c4 = st.columns(4)
    task_name = c1.selectbox("Task", list(TASKS), index=list(TASKS).index(QUICK_START.task), key=f"{SLUG}_task")
    n_layers = c2.slider("Layers", 1, 4, SPEC.n_layers, key=f"{SLUG}_layers")
    n_heads = c3.select_slider("Heads", [1, 2, 4, 8], SPEC.n_heads, key=f"{SLUG}_heads")
    d_model = c4.select_slider("d_model", [16, 32, 64, 128], SPEC.d_model, key=f"{SLUG}_d_model")
    c1, c2, c3, c4 = st.columns(4)
    steps = c1.slider("Steps", 50, 3000, CFG.steps, step=50, key=f"{SLUG}_steps")
    lr = c2.select_slider("Peak learning rate", [3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2], CFG.lr, key=f"{SLUG}_lr",
                          help=f"{CFG.schedule.capitalize()} schedule: linear warmup for {CFG.warmup} steps to this "
                          "rate, then cosine decay.")
    positional = c3.selectbox("Positions", ["rope", "learned", "sinusoidal", "alibi", "none"], key=f"{SLUG}_pos",
                              help="RoPE learns reverse fastest here: the model needs offsets relative to '='.")
    every = c4.slider("Snapshot every K steps", 10, 500, CFG.snapshot_every, step=10, key=f"{SLUG}_every")
    early = st.toggle(f"Stop once {CFG.target:.0%} of {CFG.eval_size} held-out examples are right", True,
                      key=f"{SLUG}_early", help="Checked at every snapshot, on held-out examples never trained on.")
    task = get_task(task_name)
    st.caption(escape_markdown(f"{task.description} ({task.family} model; inputs of {task.min_len} to "
                               f"{task.max_len} characters from '{task.alphabet}')"))  # fmt: skip
    spec = dataclasses.replace(SPEC, n_layers=n_layers, n_heads=n_heads, d_model=d_model, positional=positional)
    try:
        config = model_config(task, spec)
    except ValueError as err:
        st.warning(f"This architecture cannot be built: {err}. Change heads or d_model.")
        st.stop()
    cfg = dataclasses.replace(CFG, steps=steps, lr=lr, seed=settings.seed, snapshot_every=every, eval_every=every,
                              target=CFG.target if early else None)

    b1, b2, b3 = st.columns(3)
    start = b1.button("▶️ Train", type="primary", key=f"{SLUG}_train", width="stretch")
    # Clicking Stop (or any widget) while the loop below runs makes Streamlit interrupt this script run at the next
    # progress update; that rerun has neither Train nor Continue pressed, so it shows the run as stopped at its step.
    b2.button("⏹️ Stop", key=f"{SLUG}_stop", width="stretch", help="Stops after the current step; the model so far "
              "stays in this session (model explorer, generation).")
    run: Trainer | None = st.session_state.get(TRAINED_KEY)
    resume = run is not None and not run.done and b3.button("⏩ Continue", key=f"{SLUG}_continue", width="stretch")
    status, curve_slot, attention_slot = st.empty(), st.empty(), st.empty()

    if start or resume:
        if start:  # a fresh model of this session only; the shipped models are never touched
            run = Trainer(build_model(config, seed=settings.seed).to(settings.device), task, cfg)
            st.session_state[TRAINED_KEY] = run
            st.session_state.pop(f"{SLUG}_at", None)  # the snapshot steps of the new run differ
        bar = status.progress(run.step / run.cfg.steps, text="Starting…")

        def show_progress(p) -> None:
            held = f" · held-out exact match {p.held_out.exact_match:.1%}" if p.held_out else ""
            bar.progress(p.step / p.steps, text=f"step {p.step}/{p.steps} · loss {p.loss:.3f}{held} · "
                                                f"{p.elapsed_s:.1f} s")  # fmt: skip
            if p.snapshot is not None:
                curve_slot.plotly_chart(curves_figure(run.history, "Your run (live)", p.steps), key=f"{SLUG}_c{p.step}")
                attention_slot.plotly_chart(attention_figure(p.snapshot, run.task.name, f"Step {p.step}"),
                                            key=f"{SLUG}_a{p.step}")  # fmt: skip

        with st.spinner("Training on " + str(settings.device)):
            run.run(show_progress)
        st.rerun()

    if run is None:  # before training: the shipped model's curve and this untrained model's attention
        card = next((c for c in shipped_cards().values() if c["task"] == task_name), None)
        if card is not None:
            status.info(f"Before you train: the curve of the shipped {task_name} model (from its card: "
                        f"{card['training_time_s']:.0f} s, held-out exact match {card['held_out']['exact_match']:.1%})"
                        ". Press ▶️ Train to train your own.")  # fmt: skip
            c = card["curve"]
            with curve_slot.container():
                show_figure(training_curves(c["steps"], c["loss"], c["token_accuracy"], c["exact_match"],
                                            eval_steps=c["eval_steps"], eval_exact_match=c["eval_exact_match"],
                                            title=f"Shipped {task_name} model: training curves"),
                            key=f"{SLUG}_card_curve")  # fmt: skip
        snapshot = untrained_snapshot(task_name, spec, settings.seed, str(settings.device))
        with attention_slot.container():
            show_figure(attention_figure(snapshot, task_name, "Untrained model (step 0)"), key=f"{SLUG}_attn0")
    else:
        h = run.history
        state = "finished" if run.done else f"stopped at step {run.step} of {run.cfg.steps} (⏩ Continue resumes)"
        if h.target_reached:
            state = f"reached {run.cfg.target:.0%} held-out exact match at step {h.target_reached[0]}"
        held = f", held-out exact match {h.eval_exact_match[-1]:.1%}" if h.eval_exact_match else ""
        status.success(f"Your {run.task.name} run: {state}, {h.elapsed_s:.1f} s of training{held}. Open the model "
                       "explorer or the generation page to try it.")  # fmt: skip
        with curve_slot.container():
            show_figure(curves_figure(h, f"Your {run.task.name} run", run.cfg.steps), key=f"{SLUG}_curves")
        with attention_slot.container():
            snaps = {s.step: s for s in h.snapshots}
            at = list(snaps)[-1]
            if len(snaps) > 1:
                at = st.select_slider("Attention at step", list(snaps), value=at, key=f"{SLUG}_at")
            show_figure(attention_figure(snaps[at], run.task.name, f"Step {at}"), key=f"{SLUG}_attn",
                        export=snapshot_export(snaps[at], run, at))
