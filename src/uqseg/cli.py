"""The ``uqseg`` command line. Commands are thin: they parse options and call into the layers."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from uqseg.errors import UqsegError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Uncertainty quantification for segmentation.")
data_app = typer.Typer(no_args_is_help=True, help="Datasets: show them, prepare LIDC, Chákṣu, QUBIQ or any folder.")
prepare_app = typer.Typer(no_args_is_help=True, help="Convert a downloaded dataset into uqseg's safe format.")
app.add_typer(data_app, name="data")
data_app.add_typer(prepare_app, name="prepare")

_state = {"debug": False}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")) -> None:
    _state["debug"] = debug


@data_app.command("show")
def data_show(
    name: str = typer.Argument(..., help="Registered dataset name, e.g. synthetic-lidc."),
    out: Path = typer.Option(None, "--out", help="PNG path (default: <name>.png)."),
    n: int = typer.Option(4, "--n", help="Number of images to show."),
    cache_dir: Path = typer.Option(Path("runs/data-cache"), "--cache-dir", help="Where generated data is cached."),
    seed: int = typer.Option(0, "--seed", help="Generator seed of a synthetic dataset."),
    root: Path = typer.Option(None, "--root", help="Prepared dataset directory (real lidc / chaksu)."),
) -> None:
    """Write a PNG grid of images, annotators, the oracle variance and each OOD shift."""
    from uqseg.data.show import show_dataset

    path = show_dataset(name, out or Path(f"{name}.png"), n=n, cache_dir=cache_dir, seed=seed, root=root)
    typer.echo(f"wrote {path}")


@prepare_app.command("lidc")
def prepare_lidc_command(
    source: Path = typer.Option(..., "--source", help="data_lidc.pickle (Prob. UNet) or data_lidc.hdf5 (PHiSeg/CCDM)."),
    out: Path = typer.Option(Path("data/lidc"), "--out", help="Directory of the prepared dataset."),
    metadata: Path = typer.Option(None, "--metadata", help="LIDC-IDRI_MetaData.csv (TCIA); needed with the pickle."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow reading the pickle, which can run code."),
    split_file: Path = typer.Option(None, "--split-file", help="A patient,split CSV instead of the computed split."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT once the new dataset is complete."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a rich progress bar."),
) -> None:
    """Convert LIDC-IDRI 2D into uqseg's prepared format: patient split, 4 OOD copies (docs/method.md §8)."""
    from uqseg.data.prepare.lidc import prepare_lidc

    manifest = prepare_lidc(source, out, metadata=metadata, trust_pickle=trust_pickle, split_file=split_file,
                            overwrite=overwrite, progress=progress, echo=typer.echo)
    typer.echo(f"wrote {out}: " + ", ".join(f"{k} {v['count']}" for k, v in manifest["splits"].items()))


@prepare_app.command("chaksu")
def prepare_chaksu_command(
    source: Path = typer.Option(..., "--source", help="The Chákṣu IMAGE root holding Train/ and Test/."),
    out: Path = typer.Option(Path("data/chaksu"), "--out", help="Directory of the prepared dataset."),
    workers: int = typer.Option(1, "--workers", help="Processes reading and cropping images."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT once the new dataset is complete."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a rich progress bar."),
) -> None:
    """Convert Chákṣu IMAGE into uqseg's prepared format: crops, 0/1/2 labels, splits (docs/method.md §8)."""
    from uqseg.data.prepare.chaksu import prepare_chaksu

    manifest = prepare_chaksu(source, out, workers=workers, overwrite=overwrite, progress=progress, echo=typer.echo)
    typer.echo(f"wrote {out}: " + ", ".join(f"{k} {v['count']}" for k, v in manifest["splits"].items()))


@prepare_app.command("folder")
def prepare_folder_command(
    source: Path = typer.Option(..., "--source", help="Folder with images/, annotations/<rater>/, optional "
                                "splits.csv, ood/<name>/ and dataset.yaml."),
    out: Path = typer.Option(..., "--out", help="Directory of the prepared dataset."),
    name: str = typer.Option(None, "--name", help="Dataset name if dataset.yaml has none (default: SOURCE's name)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT once the new dataset is complete."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a rich progress bar."),
) -> None:
    """Convert any multi-annotator image folder into uqseg's prepared format; use it as --datasets folder:OUT."""
    from uqseg.data.prepare.folder import prepare_folder

    manifest = prepare_folder(source, out, name=name, overwrite=overwrite, progress=progress, echo=typer.echo)
    typer.echo(f"wrote {out} (dataset {manifest['dataset']}): "
               + ", ".join(f"{k} {v['count']}" for k, v in manifest["splits"].items()))


@prepare_app.command("qubiq")
def prepare_qubiq_command(
    source: Path = typer.Option(..., "--source", help="A QUBIQ dataset: case folders with image.nii.gz and "
                                "taskTT_segRR.nii.gz (optionally under Training/ and Validation/)."),
    task: int = typer.Option(..., "--task", help="The binary task number TT."),
    out: Path = typer.Option(..., "--out", help="Directory of the prepared dataset."),
    name: str = typer.Option(None, "--name", help="Dataset name (default: qubiq-<SOURCE name>-task<TT>)."),
    size: int = typer.Option(None, "--size", help="Square side to resize to (default: the images' own size)."),
    resize: str = typer.Option("crop", "--resize", help="crop, pad or stretch, to make images square."),
    normalisation: str = typer.Option("standardise", "--normalisation", help="standardise, imagenet or none."),
    seed: int = typer.Option(0, "--seed", help="Seed of the case split."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT once the new dataset is complete."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a rich progress bar."),
) -> None:
    """Convert one binary task of a QUBIQ dataset into uqseg's prepared format; use it as --datasets folder:OUT."""
    from uqseg.data.prepare.qubiq import prepare_qubiq

    manifest = prepare_qubiq(source, out, task=task, name=name, size=size, resize=resize,
                             normalisation=normalisation, seed=seed, overwrite=overwrite, progress=progress,
                             echo=typer.echo)
    typer.echo(f"wrote {out} (dataset {manifest['dataset']}): "
               + ", ".join(f"{k} {v['count']}" for k, v in manifest["splits"].items()))


@app.command("train")
def train(
    dataset: str = typer.Option(..., "--dataset", help="Registered dataset name, e.g. synthetic-lidc."),
    au: str = typer.Option(..., "--au", help="AU model: softmax, ssn, prob_unet or diffusion."),
    eu: str = typer.Option(..., "--eu", help="EU method: none, dropout, swag, swag_d or ensemble."),
    epochs: int = typer.Option(..., "--epochs", help="Training epochs."),
    out: Path = typer.Option(..., "--out", help="Run directory; runs go to OUT/training/<run-key>/."),
    seed: int = typer.Option(0, "--seed", help="Base seed; ensemble members derive theirs from it."),
    ensemble_size: int = typer.Option(5, "--ensemble-size", help="Ensemble members M."),
    overrides: list[str] = typer.Option([], "--set", help="SECTION.KEY=VALUE, SECTION in train, model, data."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a rich progress bar."),
) -> None:
    """Train every run the combination AU+EU needs (docs/method.md §6, §7) and print where each one is."""
    from uqseg.training.config import make_train_config
    from uqseg.training.runner import make_model_config, parse_overrides, train_combination

    sets = parse_overrides(overrides)
    done = train_combination(
        au,
        eu,
        dataset=dataset,
        dataset_options=sets["data"],
        model=make_model_config(sets["model"]),
        train=make_train_config(**{"epochs": epochs, "seed": seed, **sets["train"]}),
        root=out,
        seed=seed,
        ensemble_size=ensemble_size,
        progress=progress,
    )
    for run, path in done:
        typer.echo(f"{run.name} {run.key}: {path}")


@app.command("evaluate")
def evaluate(
    dataset: str = typer.Option(..., "--dataset", help="Registered dataset name, e.g. synthetic-lidc."),
    combo: str = typer.Option(..., "--combo", help="The combination AU+EU, e.g. ssn+swag."),
    epochs: int = typer.Option(..., "--epochs", help="Training epochs (runs already trained are reused)."),
    out: Path = typer.Option(..., "--out", help="Run directory (training/, predictions/, metrics/ go below it)."),
    seed: int = typer.Option(0, "--seed", help="Base seed of training and inference."),
    overrides: list[str] = typer.Option([], "--set", help="SECTION.KEY=VALUE, SECTION in train, model, data, infer."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a rich progress bar."),
) -> None:
    """Train (if needed), predict every split and evaluate one combination; write its tidy metrics table."""
    from uqseg.inference.cli_support import run_evaluate

    path = run_evaluate(dataset, combo, epochs=epochs, out=out, seed=seed, overrides=overrides, progress=progress)
    typer.echo(f"wrote {path}")


@app.command("predict")
def predict(
    run_dir: Path = typer.Argument(..., help="Run directory holding trained runs under training/."),
    combo: str = typer.Option(..., "--combo", help="The combination AU+EU, e.g. ssn+swag."),
    image: Path = typer.Option(..., "--image", help="A PNG, JPG (any Pillow image) or NPY (H×W or C×H×W) image."),
    out: Path = typer.Option(None, "--out",
                             help="Output folder (default: RUN_DIR/predict/<image name>-<path hash>/<combo>)."),
    dataset: str = typer.Option(None, "--dataset", help="Dataset of the trained runs, if several."),
    seed: int = typer.Option(None, "--seed", help="Seed of the trained runs, if several."),
    normalise: str = typer.Option("dataset", "--normalise", help="dataset, standardise or none."),
    overrides: list[str] = typer.Option([], "--set", help="infer.KEY=VALUE inference settings."),
) -> None:
    """Write a figure of the image, AU samples and the TU/AU/EU maps, plus the maps as .npy, for one image."""
    from uqseg.inference.cli_support import run_predict

    paths = run_predict(run_dir, combo, image, out=out, dataset=dataset, seed=seed, normalise=normalise,
                        overrides=overrides)
    for name, path in paths.items():
        typer.echo(f"{name}: {path}")


@app.command("benchmark")
def benchmark(
    preset: str = typer.Option("quick", "--preset", help="quick, standard, paper, tiny, or a YAML file."),
    datasets: list[str] = typer.Option(None, "--datasets", help="Registered datasets (comma-separated or repeated)."),
    combos: list[str] = typer.Option(None, "--combos", help="AU+EU combinations (comma-separated or repeated)."),
    seeds: int = typer.Option(None, "--seeds", help="Number of seeds: 0..N-1."),
    out: Path = typer.Option(None, "--out", help="Run directory (default: runs/<preset>)."),
    executor: str = typer.Option(None, "--executor", help="local or ray."),
    ray_address: str = typer.Option(None, "--ray-address", help="Ray cluster address (with --executor ray)."),
    overrides: list[str] = typer.Option([], "--set", help="KEY.SUBKEY=VALUE preset override, e.g. train.epochs=5."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress display."),
) -> None:
    """Run the whole study (train, infer, evaluate, report); resumes where it stopped."""
    from uqseg.experiments.command import benchmark_command

    benchmark_command(preset=preset, datasets=datasets, combos=combos, seeds=seeds, out=out, executor=executor,
                      ray_address=ray_address, overrides=overrides, progress=progress)


@app.command("report")
def report(
    run_dir: Path = typer.Argument(..., help="Run directory holding results.parquet (e.g. from uqseg benchmark)."),
) -> None:
    """Write RUN_DIR/report/index.html: the paper's tables and figures (PNG, PDF, CSV, Markdown) from the run."""
    from uqseg.report import build_report

    typer.echo(f"wrote {build_report(run_dir)}")


@app.command("models")
def models(
    image_size: int = typer.Option(128, "--image-size", help="Input height and width."),
    base_width: int = typer.Option(32, "--base-width", help="Channels of the first level."),
    channel_mult: str = typer.Option("1,2,4,8", "--channel-mult", help="Per-level channel multipliers."),
    num_res_blocks: int = typer.Option(2, "--res-blocks", help="ResBlocks per encoder level."),
    attention_levels: str = typer.Option("-2,-1", "--attention-levels", help="Levels with attention (-1 = deepest)."),
    num_heads: int = typer.Option(4, "--heads", help="Attention heads."),
    num_classes: int = typer.Option(2, "--classes", help="Segmentation classes."),
    in_channels: int = typer.Option(3, "--in-channels", help="Image channels."),
    variant: str = typer.Option("code", "--variant", help="code (paper counts) or appendix (avg-pool, add skips)."),
) -> None:
    """Print each AU model's parameter count for a backbone config (default: the paper's)."""
    from uqseg.nn.sizes import make_config, parse_ints, size_table

    cfg = make_config(
        {
            "image_size": image_size,
            "base_width": base_width,
            "channel_mult": parse_ints(channel_mult, "--channel-mult"),
            "num_res_blocks": num_res_blocks,
            "attention_levels": parse_ints(attention_levels, "--attention-levels"),
            "num_heads": num_heads,
            "num_classes": num_classes,
            "in_channels": in_channels,
            "variant": variant,
        }
    )
    typer.echo(size_table(cfg))


def _interrupted() -> None:
    """Exit 130 with one line, as a shell does for a command stopped by Ctrl-C (docs/reliability.md)."""
    typer.echo("interrupted", err=True)
    sys.exit(130)


def main() -> None:
    """Console entry point: uqseg errors print one line and exit 2; ``--debug`` shows the traceback; Ctrl-C exits
    130 with the one line ``interrupted``, also when a library turned the KeyboardInterrupt into another exit
    (Lightning exits 1), because SIGINT is watched here (docs/reliability.md)."""
    import signal

    seen: list[int] = []

    def on_sigint(signum: int, frame: object) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        code = _run("--debug" in sys.argv[1:], seen)
    finally:
        signal.signal(signal.SIGINT, previous)
    if seen or code == 130:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(code)


def _run(debug: bool, seen: list[int]) -> int:
    """Run the app and return the exit code; 130 when interrupted (``seen`` holds the SIGINTs received)."""
    try:
        code = app(standalone_mode=False)
        return code if isinstance(code, int) else 0
    except KeyboardInterrupt:
        return 130
    except UqsegError as err:
        if seen:
            return 130
        if debug:
            raise
        typer.echo(f"error: {err}", err=True)
        return 2
    except (typer.Exit, SystemExit) as err:
        if seen:
            return 130
        code = getattr(err, "exit_code", getattr(err, "code", 0))
        if code is None or isinstance(code, int):
            return code or 0
        typer.echo(str(code), err=True)
        return 1
    except Exception as err:  # click usage errors and the like
        import click

        if seen or isinstance(err, click.exceptions.Abort):
            return 130
        if isinstance(err, click.ClickException):
            err.show()
            return err.exit_code
        if debug:
            raise
        typer.echo(f"error: {type(err).__name__}: {err} (run with --debug for the traceback)", err=True)
        return 1


if __name__ == "__main__":
    main()
