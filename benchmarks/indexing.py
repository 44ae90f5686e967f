"""Indexing throughput: the library's pipeline vs the model alone vs a naive loop, in one run.

- pipeline: `Embedder.embed_files` (draft decode + transform in worker threads, ahead of batched inference)
- model alone: `Embedder.embed_tensors` on pre-decoded tensors at the same batch size
- naive: open, full decode (no draft), the trainer's `eval_transform`, model on one image at a time

The three are interleaved chunk by chunk (a few batches each), so load from other processes
hits them alike. Also measures the decode work per image on one thread, which bounds the
pipeline on a machine where decoding and inference share the same cores. CPU time per image
(all threads, spinning ones included) is reported beside the rates: it depends less than wall
time on how much of the machine other processes take.

    python -m benchmarks.indexing --images 1000 --runs 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from foundation.images import load_image
from retrieval_app.core.embedder import DEFAULT_BATCH_SIZE, Embedder
from trainer.options import DEFAULT_BACKBONE
from trainer.transforms import eval_transform

from .common import PHOTO_SIZES, median, save, table, write_photos

SIZES_BY_MP = {round(w * h / 1e6): (w, h) for w, h in PHOTO_SIZES}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="files in the generated library")
    parser.add_argument("--megapixels", type=int, nargs="+", default=sorted(SIZES_BY_MP), help="mix of sizes")
    parser.add_argument("--naive-images", type=int, default=120, help="files the (slow) naive loop embeds")
    parser.add_argument("--runs", type=int, default=3, help="passes over the library")
    parser.add_argument("--chunk", type=int, default=128, help="images per interleaved chunk")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--decode-workers", type=int, help="default: the library's choice")
    parser.add_argument("--folder", type=Path, help="reuse or keep the generated photos here")
    parser.add_argument("--name", default="indexing", help="results/NAME.json")
    return parser.parse_args(argv)


def pipeline(embedder: Embedder, paths: list[str]) -> float:
    """Seconds for `embed_files`, the path `Library.index` uses."""
    start = time.perf_counter()
    done = sum(len(batch.vectors) for batch in embedder.embed_files(enumerate(paths)))
    assert done == len(paths)
    return time.perf_counter() - start


def model_alone(embedder: Embedder, tensors: torch.Tensor, count: int) -> float:
    """Seconds for the model on ready tensors, `count` images in batches."""
    start = time.perf_counter()
    done = 0
    while done < count:
        batch = tensors[: min(embedder.batch_size, count - done)]
        embedder.embed_tensors(batch)
        done += len(batch)
    return time.perf_counter() - start


def naive(embedder: Embedder, paths: list[str]) -> float:
    """Seconds for the straightforward loop: full decode, torchvision transform, batch of one."""
    transform = eval_transform(embedder.config)
    start = time.perf_counter()
    for path in paths:
        with Image.open(path) as image:
            tensor = transform(image.convert("RGB"))
        embedder.embed_tensors(tensor.unsqueeze(0))
    return time.perf_counter() - start


def decode_seconds(embedder: Embedder, paths: list[str]) -> float:
    """CPU seconds per image of the workers' job (draft decode and transform) on one thread."""
    start = time.thread_time()
    for path in paths:
        embedder.load_tensor(path)
    return (time.thread_time() - start) / len(paths)


def decode_split(embedder: Embedder, paths: list[str]) -> dict[str, dict[str, float]]:
    """Per photo size, one thread's CPU ms for the draft decode and for the transform after it:
    which part of the workers' job is the cost."""
    times: dict[int, list[tuple[float, float]]] = {}
    for path in paths:
        with Image.open(path) as image:
            megapixels = round(image.width * image.height / 1e6)
        start = time.thread_time()
        decoded = load_image(path, min_side=embedder.config.image_size)
        middle = time.thread_time()
        embedder.preprocess(decoded)
        times.setdefault(megapixels, []).append((middle - start, time.thread_time() - middle))
    return {
        f"{mp} MP": {
            "decode_ms": median([d for d, _ in pairs]) * 1e3,
            "transform_ms": median([t for _, t in pairs]) * 1e3,
        }
        for mp, pairs in sorted(times.items())
    }


def run(args: argparse.Namespace, folder: Path) -> dict:
    sizes = [SIZES_BY_MP[mp] for mp in args.megapixels]
    distinct = 16 * len(sizes)
    print(f"generating {args.images} photos ({', '.join(f'{w}x{h}' for w, h in sizes)}) in {folder} ...")
    paths = [str(p) for p in write_photos(folder, args.images, sizes, distinct=distinct)]
    embedder = Embedder(
        DEFAULT_BACKBONE,
        image_size=args.image_size,
        device="cpu",
        batch_size=args.batch_size,
        decode_workers=args.decode_workers,
    )
    chunks = [paths[i : i + args.chunk] for i in range(0, len(paths), args.chunk)]
    naive_per_chunk = max(1, args.naive_images // len(chunks))
    tensors = torch.stack([embedder.load_tensor(p) for p in paths[: args.batch_size]])
    embedder.embed_tensors(tensors)  # warm-up: oneDNN primitives, allocator
    rates: dict[str, list[float]] = {"pipeline": [], "model_alone": [], "naive": []}
    cpu_ms: dict[str, list[float]] = {key: [] for key in rates}
    decode: list[float] = []
    for i in range(args.runs):
        seconds = dict.fromkeys(rates, 0.0)
        cpu = dict.fromkeys(rates, 0.0)
        for chunk in chunks:
            for key, job in (
                ("pipeline", lambda c=chunk: pipeline(embedder, c)),
                ("model_alone", lambda c=chunk: model_alone(embedder, tensors, len(c))),
                ("naive", lambda c=chunk: naive(embedder, c[:naive_per_chunk])),
            ):
                start = time.process_time()
                seconds[key] += job()
                cpu[key] += time.process_time() - start
        counts = {"pipeline": len(paths), "model_alone": len(paths), "naive": naive_per_chunk * len(chunks)}
        for key in rates:
            rates[key].append(counts[key] / seconds[key])
            cpu_ms[key].append(cpu[key] / counts[key] * 1e3)
        decode.append(decode_seconds(embedder, paths[:distinct]))
        print(
            f"run {i + 1}: pipeline {rates['pipeline'][-1]:.1f}  model alone {rates['model_alone'][-1]:.1f}"
            f"  naive {rates['naive'][-1]:.2f} img/s  decode {decode[-1] * 1e3:.1f} ms/img"
        )
    med = {k: median(v) for k, v in rates.items()}
    decode_s = median(decode)
    cores = torch.get_num_threads()
    bound = (1 / med["model_alone"]) / (1 / med["model_alone"] + decode_s / cores)
    labels = {
        "pipeline": "pipeline (embed_files)",
        "model_alone": "model alone, pre-decoded",
        "naive": "naive loop",
    }
    rows = [[labels[k], rates[k][-1], med[k], median(cpu_ms[k])] for k in rates]
    print(table(["img/s", "last run", f"median of {args.runs}", "CPU ms/img"], rows))
    split = decode_split(embedder, paths[:distinct])
    print(
        table(
            ["workers' job, one thread", "draft decode ms", "transform ms"],
            [[size, v["decode_ms"], v["transform_ms"]] for size, v in split.items()],
        )
    )
    ratios = {
        "pipeline_over_model_alone": med["pipeline"] / med["model_alone"],
        "pipeline_over_naive": med["pipeline"] / med["naive"],
        "work_bound_pipeline_over_model_alone": bound,
    }
    print(
        f"pipeline / model alone = {ratios['pipeline_over_model_alone']:.2f} (target >= 0.85); "
        f"pipeline / naive = {ratios['pipeline_over_naive']:.1f}x (target >= 3)\n"
        f"decode work {decode_s * 1e3:.1f} CPU ms/img; with decoding sharing {cores} cores the best "
        f"possible pipeline / model alone is {bound:.2f}"
    )
    return {
        "images": len(paths),
        "naive_images": naive_per_chunk * len(chunks),
        "chunk": args.chunk,
        "sizes": sizes,
        "batch_size": args.batch_size,
        "image_size": args.image_size,
        "decode_workers": embedder.workers,
        "torch_threads": cores,
        "runs": rates,
        "median_img_per_s": med,
        "cpu_ms_per_image": cpu_ms,
        "decode_cpu_ms_per_image": decode_s * 1e3,
        "decode_split_by_size": split,
        "ratios": ratios,
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.folder:
        result = run(args, args.folder)
    else:
        with tempfile.TemporaryDirectory(prefix="lookalike-bench-") as tmp:
            result = run(args, Path(tmp))
    save(args.name, result)
    return result


if __name__ == "__main__":
    main()
