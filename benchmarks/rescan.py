"""Re-scan of an unchanged library: `Library.scan` over N files already in the catalogue.

A re-scan stats files and compares size and mtime with the catalogue; it decodes and hashes
nothing. The files here are tiny (the scan never reads them), spread over sub-folders.

    python -m benchmarks.rescan --files 20000 --runs 5
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from retrieval_app.core.library import Library
from retrieval_app.core.scanner import scan_folder

from .common import median, save, table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--per-folder", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--name", default="rescan", help="results/NAME.json")
    return parser.parse_args(argv)


def write_tree(root: Path, files: int, per_folder: int) -> None:
    for i in range(files):
        folder = root / f"album{i // per_folder:04d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True)
        (folder / f"IMG_{i:06d}.jpg").write_bytes(i.to_bytes(4, "little"))


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lookalike-rescan-") as tmp:
        photos = Path(tmp) / "photos"
        write_tree(photos, args.files, args.per_folder)
        with Library.open(Path(tmp) / "library") as library:
            library.add_folder(photos)
            start = time.perf_counter()
            first = library.scan()
            first_s = time.perf_counter() - start
            assert first.added == args.files
            walk_s, rescan_s = [], []
            for _ in range(args.runs):
                start = time.perf_counter()
                count = sum(1 for _ in scan_folder(str(photos)))
                middle = time.perf_counter()
                report = library.scan()
                rescan_s.append(time.perf_counter() - middle)
                walk_s.append(middle - start)
                assert count == args.files and report.unchanged == args.files and report.added == 0
    rows = [
        ["first scan (insert + fingerprint)", first_s, first_s],
        ["walk + stat alone (scan_folder)", walk_s[-1], median(walk_s)],
        ["re-scan, unchanged (Library.scan)", rescan_s[-1], median(rescan_s)],
    ]
    print(f"{args.files} files in {args.files // args.per_folder} folders")
    print(table(["seconds", "last run", f"median of {args.runs}"], rows))
    print(
        f"re-scan {median(rescan_s):.2f} s (target < 2 s); walk + stat is {median(walk_s) / median(rescan_s):.0%} of it"
    )
    result = {"files": args.files, "first_scan_s": first_s, "walk_s": walk_s, "rescan_s": rescan_s}
    save(args.name, result)
    return result


if __name__ == "__main__":
    main()
