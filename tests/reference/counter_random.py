"""Kiln's counter-based random numbers (dropout's mask), written from their description in
src/Kiln.Compiler/IR/CounterRandom.cs and Chris Wellons' lowbias32 (https://nullprogram.com/blog/2018/07/31/), to give
DropoutTests values the C# code did not produce. Run: python3 tests/reference/counter_random.py"""

M = 0xFFFFFFFF


def stir(x):
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M
    x ^= x >> 15
    x = (x * 0x846CA68B) & M
    x ^= x >> 16
    return x


def start(key_low, key_high, site):
    return stir(key_low ^ stir(key_high ^ stir((site + 0x9E3779B9) & M)))


def at(key_low, key_high, site, coordinates):
    state = start(key_low, key_high, site)
    for c in coordinates:
        state = stir(state ^ (c & M))
    return state, (state >> 8) / 16777216.0


if __name__ == "__main__":
    print("stir(1) =", stir(1), " stir(0x12345678) =", hex(stir(0x12345678)))
    for args in [(5, 7, 2, [3, 4]), (0, 0, 0, []), (16777215, 16777215, 9, [0])]:
        state, u = at(*args)
        print(args, "state", state, "uniform", repr(u))
