"""Benchmark: how fast the bounded mapping sandbox refuses runaway templates, and what it costs.

Two figures (no database needed, no network):

- for each known kind of runaway field mapping (output growth, big integers, deep
  nesting): the time until it is refused at run time (``render_mapping``) and at
  save (``check_mapping``), median of ``--repeat`` tries, and the process's peak
  memory (ru_maxrss) after all of them;
- the render time (best of 5 batches) of a normal 8-field mapping with the bounded environment and
  with plain Jinja2 ``SandboxedEnvironment`` (the base it bounds), both with compiled
  templates cached, so the difference is the bounds' overhead per render.

    .venv/bin/python bench/mapping_sandbox.py [--repeat 20] [--renders 20000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNAWAY = {
    "set/for doubling": "{% set s = 'ab' %}{% for i in range(60) %}{% set s = s ~ s %}"
    "{% endfor %}{{ s }}",
    "list repeat + join": "{{ (['x' * 99999] * 99999) | join }}",
    "% format width": "{{ '%1000000000s' % 'x' }}",
    "center(10**9)": "{{ 'x' | center(10**9) }}",
    "big-int powers": "{{ ((10**1000)**1000)**100 }}",
    "replace chain": "{{ 'ab' | replace('a', 'a' * 1000) | replace('a', 'a' * 1000) "
    "| replace('a', 'a' * 1000) }}",
    "batch fill": "{{ [1] | batch(10**9, 'x') | list }}",
    "str.format width": "{{ '{:>1000000000}'.format('x') }}",
    # Values built by filters from shared references: small in memory, huge as text.
    "shared refs | string": "{{ ([none] * 100000) | map('default', 'x' * 999999, true) "
    "| list | string }}",
    "shared refs, 1 expr": "{{ ([none] * 100000) | map('default', 'x' * 999999, true) | list }}",
    "batch big fill": "{{ [1] | batch(100000, 'x' * 999999) | list }}",
    "list|string chain": "{{ ('x' * 999999) | list | string | list | string | length }}",
    # Nesting deeper than Jinja's recursive parser can read.
    "3000 parentheses": "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
    "3000 not": "{% if " + "not " * 3000 + "1 %}x{% endif %}",
    # A 3.3-million-bit integer divided: seconds of CPU in one step.
    "int(base=16) //": "{{ (('f' * 830000) | int(base=16)) // (('7' * 415000) | int(base=16)) }}",
}

NORMAL = {
    "customer": "{{ trigger.data.object.customer }}",
    "amount": "{{ trigger.data.object.amount }}",
    "currency": "{{ trigger.data.object.currency | lower }}",
    "description": "Invoice {{ trigger.data.object.id }} for {{ trigger.data.object.email }}",
    "metadata": {
        "source": "konnectify",
        "event": "{{ trigger.id }}",
        "lines": "{{ trigger.data.object.lines | map(attribute='id') | join(',') }}",
        "vip": "{% if trigger.data.object.amount > 1000 %}yes{% else %}no{% endif %}",
    },
}
TRIGGER = {
    "id": "evt_1",
    "data": {
        "object": {
            "id": "in_1",
            "customer": "cus_1",
            "amount": 2500,
            "currency": "USD",
            "email": "ada@example.com",
            "lines": [{"id": f"il_{n}"} for n in range(5)],
        }
    },
}
SCHEMA = {"type": "object"}


def timed(function, repeat: int) -> float:
    """Median seconds of ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def refusals(repeat: int) -> list[dict]:
    from workflows.mapping import MappingError, build_context, check_mapping, render_mapping

    context = build_context(TRIGGER)
    rows = []
    for name, text in RUNAWAY.items():
        outcome = {}

        def run(text=text, outcome=outcome):
            try:
                render_mapping({"description": text}, context)
                outcome["run"] = "RENDERED (not refused)"
            except MappingError as exc:
                outcome["run"] = exc.message

        def save(text=text, outcome=outcome):
            report = check_mapping({"description": text}, SCHEMA, sample_trigger=TRIGGER)
            outcome["save"] = report.errors[0]["message"] if report.errors else "accepted"

        rows.append(
            {
                "case": name,
                "run_ms": round(timed(run, repeat) * 1000, 2),
                "save_ms": round(timed(save, repeat) * 1000, 2),
                "run_error": outcome["run"],
                "save_error": outcome["save"],
            }
        )
    return rows


def overhead(renders: int) -> dict:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    from workflows.mapping import ENV, build_context, render_mapping

    context = build_context(TRIGGER)
    plain = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    fields = list(_strings(NORMAL))

    def per_env(env):
        compiled = [
            env.compile_expression(text.strip()[2:-2]) if _single(text) else env.from_string(text)
            for text in fields
        ]

        def render():
            for template in compiled:
                if hasattr(template, "render"):
                    template.render(**context)
                else:
                    template(**context)

        return render

    plain_render, bounded_render = per_env(plain), per_env(ENV)
    full = lambda: render_mapping(NORMAL, context)  # noqa: E731
    for warm in (plain_render, bounded_render, full):
        warm()
    result = {}
    for name, function in (
        ("plain_sandbox_us", plain_render),
        ("bounded_sandbox_us", bounded_render),
        ("render_mapping_us", full),
    ):
        # The best of 5 batches: on a shared machine the mean mostly measures the neighbours.
        batch = max(renders // 5, 1)
        best = min(timeit.repeat(function, number=batch, repeat=5))
        result[name] = round(best / batch * 1e6, 1)
    result["overhead_percent"] = round(
        (result["bounded_sandbox_us"] / result["plain_sandbox_us"] - 1) * 100, 1
    )
    return result


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _single(text: str) -> bool:
    stripped = text.strip()
    return stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--renders", type=int, default=20000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "konnectify.settings")
    import django

    django.setup()
    rows = refusals(args.repeat)
    figures = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "refusals": rows,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "normal_mapping": overhead(args.renders),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(figures["machine"])
    print(f"{'case':22} {'run ms':>8} {'save ms':>8}  run error")
    for row in rows:
        print(
            f"{row['case']:22} {row['run_ms']:8.2f} {row['save_ms']:8.2f}  {row['run_error'][:70]}"
        )
    print(f"peak RSS after all cases: {figures['peak_rss_mb']} MB")
    normal = figures["normal_mapping"]
    print(
        f"normal 8-field mapping: plain sandbox {normal['plain_sandbox_us']} us, bounded "
        f"{normal['bounded_sandbox_us']} us (+{normal['overhead_percent']}%), render_mapping "
        f"{normal['render_mapping_us']} us"
    )


if __name__ == "__main__":
    main()
