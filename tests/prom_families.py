"""Parse a Prometheus text page (stdin) with the official client's parser.

Prints one line per family, "NAME TYPE SAMPLES", and exits 1 when a family
is met twice (its samples were split by another family) or is untyped: the
parser turns the second block of a split family into a new family of type
"unknown". Exits 3 when prometheus_client is not installed.
"""
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as e:
    print(f"prometheus_client missing: {e}", file=sys.stderr)
    sys.exit(3)

page = sys.stdin.read()
seen = {}
bad = []
for fam in text_string_to_metric_families(page):
    print(fam.name, fam.type, len(fam.samples))
    if fam.name in seen:
        bad.append(f"family {fam.name} appears more than once (split by another family)")
    seen[fam.name] = fam.type
    if fam.type == "unknown":
        bad.append(f"family {fam.name} has no TYPE line above its samples")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
