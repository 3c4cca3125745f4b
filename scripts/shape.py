#!/usr/bin/env python3
"""The house rules of roomcast's code, measured: run it to see them, or as the `shape` test.

  - no source file in src/ over MAX_FILE_LINES lines;
  - no function in src/, plugins/ or bench/ over MAX_FUNCTION_LINES lines (universal-ctags finds
    where each function starts and ends);
  - no include that points up the layers: a file in src/X includes from src/Y only when Y is one
    of X's layers below (LAYERS; the meson libraries link the same way).

Prints what it measured, and every breach; exits 1 when there is one.
usage: scripts/shape.py [--root DIR]
"""
import argparse
import os
import re
import subprocess
import sys

MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 100
SOURCE_ENDINGS = ('.c', '.cc', '.cpp', '.h', '.hpp')

# What each folder of src/ may include from (besides itself): the layers below it. core and
# audio are plain C++ without GLib or GStreamer; glib_support (header-only RAII for GLib
# callbacks) sits beside them, below every other layer; the app is the composition root.
LAYERS = {
    'core': set(),
    'audio': set(),
    'glib_support': set(),
    'protocol': {'core', 'glib_support'},
    'store': {'core', 'glib_support'},
    'hls': {'core', 'glib_support'},
    'media': {'core', 'hls', 'audio', 'glib_support'},
    'cluster': {'core', 'protocol', 'glib_support'},
    'signaling': {'core', 'protocol', 'hls', 'cluster', 'glib_support'},
    'client': {'core', 'protocol', 'media', 'audio', 'glib_support'},
    'app': {'core', 'audio', 'protocol', 'store', 'hls', 'media', 'signaling', 'cluster', 'glib_support'},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"', re.M)


def tracked_sources(root, folders):
    out = subprocess.run(['git', '-C', root, 'ls-files', *folders], capture_output=True, text=True, check=True).stdout
    return [f for f in out.split() if f.endswith(SOURCE_ENDINGS)]


def line_count(path):
    with open(path, 'rb') as f:
        return sum(1 for _ in f)


def long_files(root):
    sizes = [(line_count(os.path.join(root, f)), f) for f in tracked_sources(root, ['src'])]
    return sorted(sizes, reverse=True)


def function_lengths(root, folders):
    files = tracked_sources(root, folders)
    out = subprocess.run(
        ['ctags', '-x', '--languages=C,C++', '--kinds-C=f', '--kinds-C++=f', '--fields=+ne',
         '--_xformat=%{end} %{line} %F %N', *files],
        cwd=root, capture_output=True, text=True, check=True).stdout
    lengths = []
    for row in out.splitlines():
        end, start, path, name = (row.split(' ', 3) + ['', '', '', ''])[:4]
        if end.isdigit() and start.isdigit():
            lengths.append((int(end) - int(start) + 1, f'{path}:{start}', name))
    return sorted(lengths, reverse=True)


def upward_includes(root):
    breaches = []
    for f in tracked_sources(root, ['src']):
        layer = f.split('/')[1]
        allowed = LAYERS.get(layer)
        if allowed is None:
            breaches.append(f'{f}: src/{layer} is not in the layer table')
            continue
        with open(os.path.join(root, f), encoding='utf-8') as text:
            for m in INCLUDE.finditer(text.read()):
                target = m.group(1)
                if target != layer and target in LAYERS and target not in allowed:
                    breaches.append(f'{f}: includes "{m.group(1)}/..." (src/{layer} may use {sorted(allowed) or "nothing"})')
    return breaches


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--root', default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    root = parser.parse_args().root
    breaches = []

    files = long_files(root)
    print(f'src/ files: {len(files)}; longest: ' + ', '.join(f'{f} {n}' for n, f in files[:3]))
    breaches += [f'{f}: {n} lines (at most {MAX_FILE_LINES})' for n, f in files if n > MAX_FILE_LINES]

    functions = function_lengths(root, ['src', 'plugins', 'bench'])
    print(f'functions in src/, plugins/, bench/: {len(functions)}; longest: ' +
          ', '.join(f'{name} ({where}) {n}' for n, where, name in functions[:3]))
    breaches += [f'{where}: {name}() is {n} lines (at most {MAX_FUNCTION_LINES})'
                 for n, where, name in functions if n > MAX_FUNCTION_LINES]

    upward = upward_includes(root)
    print(f'includes pointing up the layers: {len(upward)}')
    breaches += upward

    for b in breaches:
        print(f'  {b}')
    print(f'{len(breaches)} breach(es) of the house rules' if breaches else 'the house rules hold')
    return 1 if breaches else 0


if __name__ == '__main__':
    sys.exit(main())
