"""Generate the offline math corpus: GSM8K-style grade-school word problems from templates.

    python scripts/make_math_problems.py [--n 120] [--seed 0] [--out sinklab/inputs/data/math_problems.txt]

Writes one problem per line, after a '#' header, to the data file the library ships and reads
(`sinklab.inputs.corpora.MATH_FILE`, used as the offline "math" domain). Names, numbers and items are
drawn with `random.Random(seed)`, the templates are used in turn, and duplicates are skipped, so
the file is reproducible: `tests/unit/test_scripts.py` checks that the shipped file is
exactly `generate_math_problems(120, seed=0)`.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

MATH_FILE = Path(__file__).resolve().parents[1] / "sinklab" / "inputs" / "data" / "math_problems.txt"
COMMAND = "python scripts/make_math_problems.py"

_PEOPLE = [
    ("Maria", "she", "her", "her"), ("James", "he", "his", "him"), ("Aisha", "she", "her", "her"),
    ("Tom", "he", "his", "him"), ("Priya", "she", "her", "her"), ("Carlos", "he", "his", "him"),
    ("Mei", "she", "her", "her"), ("Samuel", "he", "his", "him"), ("Fatima", "she", "her", "her"),
    ("Lucas", "he", "his", "him"), ("Grace", "she", "her", "her"), ("Omar", "he", "his", "him"),
    ("Hannah", "she", "her", "her"), ("Kenji", "he", "his", "him"), ("Elena", "she", "her", "her"),
    ("David", "he", "his", "him"), ("Zoe", "she", "her", "her"), ("Ibrahim", "he", "his", "him"),
    ("Nora", "she", "her", "her"), ("Leo", "he", "his", "him"),
]


def _math_templates():
    """Each template: rng, person, other person -> problem text (a GSM8K-style question).

    A person is (name, subject pronoun, possessive, object pronoun).
    """

    def market(r, p, q):
        a, b, price = r.randint(12, 40), r.randint(8, 30), r.randint(2, 9)
        item = r.choice(["jar of honey", "loaf of bread", "bunch of flowers", "basket of plums"])
        plural = {"jar of honey": "jars of honey", "loaf of bread": "loaves of bread",
                  "bunch of flowers": "bunches of flowers", "basket of plums": "baskets of plums"}[item]
        return (f"{p[0]} sells {plural} at the farmers' market. On Saturday {p[1]} sold {a} in the "
                f"morning and {b} in the afternoon. On Sunday {p[1]} sold twice as many as on the "
                f"whole of Saturday. If each {item} costs ${price}, how much money did {p[0]} earn "
                f"over the weekend?")

    def reading(r, p, q):
        pages, d1, extra = r.choice([240, 300, 360, 420, 480]), r.randint(15, 30), r.randint(3, 10)
        return (f"{p[0]} is reading a book with {pages} pages. On the first day {p[1]} reads {d1} "
                f"pages, and every day after that {p[1]} reads {extra} more pages than on the day "
                f"before. How many pages does {p[0]} still have left to read after the first four days?")

    def savings(r, p, q):
        cost, have, weekly = r.randint(15, 40) * 10, r.randint(20, 90), r.randint(8, 25)
        thing = r.choice(["a new bicycle", "a telescope", "a pair of skates", "a guitar", "a tent"])
        return (f"{p[0]} wants to buy {thing} that costs ${cost}. {p[1].capitalize()} already has "
                f"${have} saved, and {p[2]} grandmother gives {p[3]} ${weekly} every week. "
                f"{p[0]} also earns $15 each week for walking a neighbour's dog. How many weeks "
                f"will it take {p[0]} to save enough money?")

    def garden(r, p, q):
        rows, per = r.randint(4, 12), r.randint(6, 15)
        eaten = r.randint(10, 20)
        eaten += (rows * per - eaten) % 3  # the rest divides by three
        plant = r.choice(["tomato plants", "lettuce heads", "carrots", "sunflowers", "pepper plants"])
        return (f"{p[0]} planted {rows} rows of {plant} in {p[2]} garden, with {per} in each row. "
                f"Rabbits ate {eaten} of them during the spring, and {p[1]} gave a third of the rest "
                f"to {q[0]}. How many {plant} does {p[0]} have left in the garden now?")

    def bakery(r, p, q):
        trays, per, sold_pct = r.randint(3, 9), r.choice([12, 16, 20, 24]), r.choice([25, 50, 75])
        good = r.choice(["muffins", "cookies", "croissants", "cupcakes"])
        return (f"A bakery baked {trays} trays of {good} this morning, and each tray holds {per} "
                f"{good}. By noon, {sold_pct}% of the {good} had been sold. {p[0]} then bought 6 "
                f"more for a party at {p[2]} office. How many {good} were left in the bakery after that?")

    def trip(r, p, q):
        speed, h1, h2 = r.choice([40, 45, 50, 55, 60, 65]), r.randint(2, 5), r.randint(1, 4)
        return (f"{p[0]} drove to visit {q[0]} at a steady speed of {speed} miles per hour. "
                f"{p[1].capitalize()} drove for {h1} hours, stopped for lunch, and then drove for another "
                f"{h2} hours at the same speed. Later {p[1]} drove back home along the same road. How "
                f"many miles did {p[0]} drive in total?")

    def classroom(r, p, q):
        students, girls_frac, absent = r.choice([24, 36, 48]), r.choice([2, 3, 4]), r.randint(2, 5)
        frac = {2: "half", 3: "third", 4: "quarter"}[girls_frac]
        return (f"There are {students} students in {p[0]}'s class. One {frac} "
                f"of the students are girls, and the rest are boys. On Monday {absent} of the boys were "
                f"absent because of a cold. How many boys were in the classroom on Monday?")

    def pizza(r, p, q):
        pizzas, slices = r.randint(3, 8), r.choice([8, 10, 12])
        people = r.randint(5, min(12, (pizzas * slices - 4) // 3))
        return (f"{p[0]} ordered {pizzas} pizzas for {p[2]} birthday party, and each pizza was cut into "
                f"{slices} slices. There were {people} guests at the party, and each of them ate 3 slices. "
                f"{p[0]} and {q[0]} ate 2 slices each. How many slices of pizza were left over at the end?")

    def shelves(r, p, q):
        boxes, per, price = r.randint(5, 15), r.randint(10, 30), r.choice([2, 3, 4, 5])
        return (f"{p[0]} works at a toy shop and unpacked {boxes} boxes of marbles, each with {per} bags. "
                f"{p[1].capitalize()} put the bags on shelves and sold them for ${price} each. At the end "
                f"of the week, {q[0]} counted 17 bags still on the shelves. How much money did the shop "
                f"make from the marbles that week?")

    def running(r, p, q):
        laps, lap_m, days = r.randint(4, 12), r.choice([200, 400]), r.randint(3, 6)
        return (f"{p[0]} is training for a race. Each training day {p[1]} runs {laps} laps around a "
                f"track that is {lap_m} meters long, and {p[1]} trains {days} days a week. {q[0]} runs "
                f"half as far as {p[0]} each week. How many meters do the two of them run together "
                f"in one week?")

    def aquarium(r, p, q):
        fish, bought, died = r.randint(6, 20), r.randint(3, 10), r.randint(1, 4)
        return (f"{p[0]} has an aquarium with {fish} goldfish. {p[1].capitalize()} bought {bought} more "
                f"goldfish at the pet shop, but {died} of the fish got sick and had to be moved to a "
                f"separate tank. Later {q[0]} gave {p[0]} twice as many fish as {p[1]} had bought. "
                f"How many fish are in the main aquarium now?")

    def paint(r, p, q):
        walls, area, coverage = r.randint(3, 6), r.choice([20, 24, 30, 36]), r.choice([10, 12])
        price = r.randint(12, 30)
        return (f"{p[0]} is painting {walls} walls in {p[2]} house, and each wall has an area of {area} "
                f"square meters. One can of paint covers {coverage} square meters, and each can costs "
                f"${price}. If {p[1]} needs two coats of paint on every wall, how much will {p[1]} spend "
                f"on paint?")

    return [market, reading, savings, garden, bakery, trip, classroom, pizza, shelves, running,
            aquarium, paint]


def generate_math_problems(n: int = 120, seed: int = 0) -> list[str]:
    """`n` distinct GSM8K-style word problems, deterministically from `seed` (templates in turn)."""
    rng = random.Random(seed)
    templates = _math_templates()
    out, seen = [], set()
    i = 0
    while len(out) < n:
        if i > 100 * n:  # pragma: no cover - templates have far more variants than needed
            raise RuntimeError("could not generate enough distinct math problems")
        p, q = rng.sample(_PEOPLE, 2)
        text = templates[i % len(templates)](rng, p, q)
        i += 1
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def write_math_file(path: Path = MATH_FILE, n: int = 120, seed: int = 0) -> None:
    """Write generate_math_problems(n, seed) to `path` (one problem per line, after a '#' header)."""
    header = (f"# GSM8K-style grade-school word problems generated by scripts/make_math_problems.py "
              f"(generate_math_problems(n={n}, seed={seed})).\n"
              f"# Regenerate with: {COMMAND}. One problem per line.\n")
    path.write_text(header + "\n".join(generate_math_problems(n, seed)) + "\n", encoding="utf-8")


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=120, help="number of problems")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=MATH_FILE, help="output file (default: the shipped data file)")
    args = p.parse_args(argv)
    write_math_file(args.out, args.n, args.seed)
    print(f"wrote {args.n} problems to {args.out}")
    return args.out


if __name__ == "__main__":
    main()
