"""The ``uqseg`` command line. Commands are thin: they parse options and call into the layers.

Usage errors exit 2 with the usual usage message naming the option; uqseg's own errors exit 2 with one line
``error: ...``; Ctrl-C exits 130 (docs/reliability.md). ``UQSEG_OUT`` sets ``--out`` and ``UQSEG_DEBUG`` sets
``--debug``. Only typer is imported here (it brings its own click), and nothing optional such as Ray.
"""

from __future__ import annotations

import logging
import os
import sys
from enum import Enum
from pathlib import Path

import typer

from uqseg import __version__
from uqseg.errors import UqsegError
from uqseg.vocabulary import AUModel, EUMethod

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Uncertainty quantification for segmentation.")
data_app = typer.Typer(no_args_is_help=True, help="Datasets: show them, prepare LIDC, Chákṣu, QUBIQ or any folder.")
prepare_app = typer.Typer(no_args_is_help=True, help="Convert a downloaded dataset into uqseg's safe format.")
app.add_typer(data_app, name="data")
data_app.add_typer(prepare_app, name="prepare")

DEBUG_ENV, OUT_ENV, VERBOSE_ENV = "UQSEG_DEBUG", "UQSEG_OUT", "UQSEG_VERBOSE"
QUIET_LOGGERS = ("lightning.pytorch", "lightning.fabric", "lightning")
PRESET_HELP = "A shipped preset, as in uqseg benchmark (tiny: a smoke test)."


class Preset(str, Enum):
    """The shipped presets (``uqseg/presets/*.yaml``)."""

    QUICK = "quick"
    STANDARD = "standard"
    PAPER = "paper"
    TINY = "tiny"


class Executor(str, Enum):
    """Where the benchmark's steps run."""

    LOCAL = "local"
    RAY = "ray"


class Normalise(str, Enum):
    """How ``uqseg predict`` scales a user image."""

    DATASET = "dataset"
    STANDARDISE = "standardise"
    NONE = "none"


def _value(option: Enum | None) -> str | None:
    return None if option is None else str(option.value)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"uqseg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", envvar=DEBUG_ENV, help="Show full tracebacks on errors."),
    verbose: bool = typer.Option(False, "--verbose", envvar=VERBOSE_ENV,
                                 help="Show Lightning's banner lines and tips."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print uqseg's version and exit."),
) -> None:
    """Uncertainty quantification for segmentation."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"  # the training steps (also in worker processes) leave Lightning's notices on
    else:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


@data_app.command("show")
def data_show(
    name: str = typer.Argument(..., help="Registered dataset name, e.g. synthetic-lidc."),
    out: Path = typer.Option(None, "--out", help="PNG path (default: <name>.png)."),
    n: int = typer.Option(4, "--n", help="Number of images to show (at most 16)."),
    cache_dir: Path = typer.Option(None, "--cache-dir",
                                   help="Where generated data is cached (default: $XDG_CACHE_HOME/uqseg or "
                                   "~/.cache/uqseg)."),
    seed: int = typer.Option(0, "--seed", help="Generator seed of a synthetic dataset."),
    root: Path = typer.Option(None, "--root", help="Prepared dataset directory (real lidc / chaksu)."),
) -> None:
    """Write a PNG grid of images, annotators, the oracle variance and each OOD shift."""
    from uqseg.data.show import show_dataset
    from uqseg.errors import ConfigError
    from uqseg.experiments.command import check_out_dir, shown_count, user_cache_dir

    target = out or Path(f"{name}.png")
    if target.is_dir():
        raise ConfigError(f"--out {target} is a directory; give a PNG file path")
    check_out_dir(target.parent)
    cache = check_out_dir(cache_dir or user_cache_dir() / "data", "--cache-dir")
    path = show_dataset(name, target, n=shown_count(n, typer.echo), cache_dir=cache, seed=seed, root=root)
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
    dataset: str = typer.Option(..., "--dataset", help="Dataset name, e.g. synthetic-lidc, or folder:DATA."),
    combo: str = typer.Option(None, "--combo", help="The combination AU+EU, e.g. ssn+swag."),
    au: AUModel = typer.Option(None, "--au", help="AU model (with --eu, instead of --combo)."),
    eu: EUMethod = typer.Option(None, "--eu", help="EU method (with --au, instead of --combo)."),
    out: Path = typer.Option(..., "--out", envvar=OUT_ENV, help="Run directory (training/ goes below it)."),
    preset: Preset = typer.Option(Preset.QUICK, "--preset", help=PRESET_HELP),
    epochs: int = typer.Option(None, "--epochs", help="Training epochs (default: the preset's)."),
    seed: int = typer.Option(0, "--seed", help="Study seed; ensemble members derive theirs from it."),
    overrides: list[str] = typer.Option([], "--set", help="KEY.SUBKEY=VALUE, as in uqseg benchmark."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress display."),
) -> None:
    """Train every run one combination needs (docs/method.md §6, §7), sized from the dataset; resumes."""
    from rich.console import Console

    from uqseg.experiments.command import combination_command, combo_option

    combination_command(stage="train", dataset=dataset, combo=combo_option(combo, _value(au), _value(eu)), out=out,
                        preset=preset.value, seed=seed, epochs=epochs, overrides=overrides, progress=progress,
                        console=Console())


@app.command("evaluate")
def evaluate(
    dataset: str = typer.Option(..., "--dataset", help="Dataset name, e.g. synthetic-lidc, or folder:DATA."),
    combo: str = typer.Option(None, "--combo", help="The combination AU+EU, e.g. ssn+swag."),
    au: AUModel = typer.Option(None, "--au", help="AU model (with --eu, instead of --combo)."),
    eu: EUMethod = typer.Option(None, "--eu", help="EU method (with --au, instead of --combo)."),
    out: Path = typer.Option(..., "--out", envvar=OUT_ENV,
                             help="Run directory (training/, predictions/, metrics/ go below it)."),
    preset: Preset = typer.Option(Preset.QUICK, "--preset", help=PRESET_HELP),
    epochs: int = typer.Option(None, "--epochs", help="Training epochs (default: the preset's)."),
    seed: int = typer.Option(0, "--seed", help="Study seed of training and inference."),
    overrides: list[str] = typer.Option([], "--set", help="KEY.SUBKEY=VALUE, as in uqseg benchmark."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress display."),
    predictions: Path = typer.Option(None, "--predictions", help="Score samples made elsewhere instead of training: "
                                     "an NPZ or HDF5 file with one N×M×S×C×H×W array of class probabilities per "
                                     "split (val, test, each OOD split; docs/custom_model.md). --combo names them "
                                     "(default external+none for M = 1, external+ensemble otherwise)."),
) -> None:
    """Train (if needed), predict every split and evaluate one combination; print its main figures. With
    --predictions, score stored samples instead and write the results table and report."""
    from rich.console import Console

    from uqseg.experiments.command import combination_command, combo_option

    if predictions is not None:
        from uqseg.experiments.command import check_out_dir, external_command

        if au is not None or eu is not None or epochs is not None:
            raise typer.BadParameter("--predictions takes --combo, not --au/--eu/--epochs")
        external_command(predictions, dataset, check_out_dir(out), combo=combo, preset=preset.value, seed=seed,
                         overrides=overrides, progress=progress, console=Console())
        return
    combination_command(stage="evaluate", dataset=dataset, combo=combo_option(combo, _value(au), _value(eu)),
                        out=out, preset=preset.value, seed=seed, epochs=epochs, overrides=overrides,
                        progress=progress, console=Console())


@app.command("predict")
def predict(
    run_dir: Path = typer.Argument(..., help="Run directory of uqseg train, evaluate or benchmark."),
    image: Path = typer.Option(..., "--image", help="A PNG, JPG (any Pillow image) or NPY (H×W or C×H×W) image."),
    combo: str = typer.Option(None, "--combo", help="The combination AU+EU, e.g. ssn+swag."),
    au: AUModel = typer.Option(None, "--au", help="AU model (with --eu, instead of --combo)."),
    eu: EUMethod = typer.Option(None, "--eu", help="EU method (with --au, instead of --combo)."),
    out: Path = typer.Option(None, "--out",
                             help="Output folder (default: RUN_DIR/predict/<image name>-<path hash>/<combo>)."),
    dataset: str = typer.Option(None, "--dataset", help="Dataset of the trained runs, if the run has several."),
    seed: int = typer.Option(None, "--seed", help="Study seed of the trained runs, if the run has several."),
    normalise: Normalise = typer.Option(Normalise.DATASET, "--normalise", help="How the image is scaled."),
    overrides: list[str] = typer.Option([], "--set", help="inference.KEY=VALUE, as in uqseg benchmark."),
) -> None:
    """Write a figure of the image, AU samples and the TU/AU/EU maps, plus the maps as .npy, for one image."""
    from uqseg.experiments.command import check_input_file, check_out_dir, check_run_dir, combo_option
    from uqseg.experiments.image import predict_image

    check_run_dir(run_dir)
    check_input_file(image, "--image")
    paths = predict_image(run_dir, combo_option(combo, _value(au), _value(eu)), image,
                          check_out_dir(out) if out is not None else None, dataset=dataset, seed=seed,
                          normalise=normalise.value, overrides=overrides)
    for name, path in paths.items():
        typer.echo(f"{name}: {path}")


@app.command("benchmark")
def benchmark(
    preset: str = typer.Option("quick", "--preset", metavar="[quick|standard|paper|tiny|FILE]",
                               help="A shipped preset or a YAML file."),
    datasets: list[str] = typer.Option(None, "--datasets", help="Registered datasets (comma-separated or repeated)."),
    combos: list[str] = typer.Option(None, "--combos", help="AU+EU combinations (comma-separated or repeated)."),
    seeds: int = typer.Option(None, "--seeds", help="Number of seeds: 0..N-1."),
    out: Path = typer.Option(None, "--out", envvar=OUT_ENV, help="Run directory (default: runs/<preset>)."),
    executor: Executor = typer.Option(None, "--executor", help="Where steps run (default: the preset's, local)."),
    ray_address: str = typer.Option(None, "--ray-address", help="Ray cluster address (with --executor ray)."),
    overrides: list[str] = typer.Option([], "--set", help="KEY.SUBKEY=VALUE preset override, e.g. train.epochs=5."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress display."),
) -> None:
    """Run the whole study (train, infer, evaluate, report); resumes where it stopped."""
    from uqseg.experiments.command import benchmark_command

    benchmark_command(preset=preset, datasets=datasets, combos=combos, seeds=seeds, out=out,
                      executor=_value(executor), ray_address=ray_address, overrides=overrides, progress=progress)


@app.command("report")
def report(
    run_dir: Path = typer.Argument(..., help="Run directory holding results.parquet (e.g. from uqseg benchmark)."),
) -> None:
    """Write RUN_DIR/report/index.html: the paper's tables and figures (PNG, PDF, CSV, Markdown) from the run."""
    from uqseg.experiments.command import report_command

    typer.echo(f"wrote {report_command(run_dir)}")


@app.command("models")
def models(
    image_size: int = typer.Option(128, "--image-size", help="Input height and width."),
    base_width: int = typer.Option(32, "--base-width", help="Channels of the first level."),
    channel_mult: str = typer.Option("1,2,4,8", "--channel-mult",
                                     help="Per-level channel multipliers: 1,2,4,8 or [1,2,4,8]."),
    num_res_blocks: int = typer.Option(2, "--res-blocks", help="ResBlocks per encoder level."),
    attention_levels: str = typer.Option("-2,-1", "--attention-levels", help="Levels with attention (-1 = deepest)."),
    num_heads: int = typer.Option(4, "--heads", help="Attention heads."),
    num_classes: int = typer.Option(2, "--classes", help="Segmentation classes."),
    in_channels: int = typer.Option(3, "--in-channels", help="Image channels."),
    variant: str = typer.Option("code", "--variant", help="code (paper counts) or appendix (avg-pool, add skips)."),
) -> None:
    """Print each AU model's parameter count for a backbone config (default: the paper's)."""
    from uqseg.experiments.command import int_list
    from uqseg.nn.sizes import make_config, size_table

    cfg = make_config(
        {
            "image_size": image_size,
            "base_width": base_width,
            "channel_mult": int_list(channel_mult, "--channel-mult"),
            "num_res_blocks": num_res_blocks,
            "attention_levels": int_list(attention_levels, "--attention-levels"),
            "num_heads": num_heads,
            "num_classes": num_classes,
            "in_channels": in_channels,
            "variant": variant,
        }
    )
    typer.echo(size_table(cfg))


def main() -> None:
    """Console entry point: uqseg errors print one line and exit 2; ``--debug`` shows the traceback; Ctrl-C exits
    130 with the one line ``interrupted``, also when a library turned the KeyboardInterrupt into another exit
    (Lightning exits 1), because SIGINT is watched here (docs/reliability.md)."""
    import signal

    seen: list[int] = []

    def on_sigint(signum: int, frame: object) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    debug = "--debug" in sys.argv[1:] or os.environ.get(DEBUG_ENV, "").lower() in ("1", "true", "yes", "on")
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        code = _run(debug, seen)
    finally:
        signal.signal(signal.SIGINT, previous)
    if seen or code == 130:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(code)


def _usage_error(err: BaseException) -> int | None:
    """Show a click usage error (typer's own click, whichever it is) as click does; its exit code, or None when
    ``err`` is not one. Duck-typed so this module never imports click."""
    show, code = getattr(err, "show", None), getattr(err, "exit_code", None)
    if not callable(show) or not isinstance(code, int):
        return None
    show()
    return code


def _run(debug: bool, seen: list[int]) -> int:
    """Run the app and return the exit code; 130 when interrupted (``seen`` holds the SIGINTs received)."""
    try:
        code = app(standalone_mode=False, prog_name="uqseg")
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
    except Exception as err:
        if seen or type(err).__name__ == "Abort":
            return 130
        usage = _usage_error(err)
        if usage is not None:
            return usage
        if debug:
            raise
        typer.echo(f"error: {type(err).__name__}: {err} (run with --debug for the traceback)", err=True)
        return 1


if __name__ == "__main__":
    main()
