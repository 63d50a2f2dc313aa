using System.Runtime.CompilerServices;
using ILGPU;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// The 16-bit tensor-core instruction, <c>mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{bf16,f16}.f32</c> (a 16×16 A
/// times a 16×8 B plus a 16×8 fp32 C), as one swappable piece like <see cref="TensorCoreMma"/>: the PTX instruction on a
/// CUDA GPU (<see cref="IHalfFormat.Mma"/>), and here its emulation for everywhere else, through shared memory.
/// </summary>
/// <remarks>
/// Fragment layout, from the PTX ISA ("Matrix Fragments for mma.m16n8k16 with floating point type"): with g = lane / 4
/// and q = lane mod 4, a lane's four A registers hold the pairs A[g][2q, 2q+1], A[g+8][2q, 2q+1], A[g][2q+8, 2q+9],
/// A[g+8][2q+8, 2q+9]; its two B registers B[2q, 2q+1][g] and B[2q+8, 2q+9][g]; each register's lower half is the
/// lower-indexed element. C is laid out as for m16n8k8. So a pair of consecutive k is one 32-bit word everywhere: a
/// kernel that keeps its shared tiles as packed k-pairs loads every fragment register with one 32-bit read.
/// </remarks>
public static class TensorCoreMmaK16
{
    /// <summary>Words of shared memory the emulation needs per warp: a 16×16 A and a 16×8 B as packed k-pairs.</summary>
    public const int ScratchPerWarp = 16 * 8 + 8 * 8;

    /// <summary>Row of A held by register <paramref name="i"/> (0–3) of <paramref name="lane"/>.</summary>
    public static int ARow(int lane, int i) => (lane >> 2) + ((i & 1) << 3);

    /// <summary>k-pair (k / 2) of A held by register <paramref name="i"/> (0–3) of <paramref name="lane"/>.</summary>
    public static int APair(int lane, int i) => (lane & 3) + ((i >> 1) << 2);

    /// <summary>k-pair of B held by register <paramref name="i"/> (0–1) of <paramref name="lane"/>.</summary>
    public static int BPair(int lane, int i) => (lane & 3) + (i << 2);

    public static int BCol(int lane) => lane >> 2;

    /// <summary>The instruction's semantics: each lane writes its fragment registers (k-pairs) to this warp's <see cref="ScratchPerWarp"/> words; then computes its four results.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TensorCoreMma.Accumulator Emulate<THalf>(THalf format, int a0, int a1, int a2, int a3, int b0, int b1,
        TensorCoreMma.Accumulator c, ArrayView<float> scratch) where THalf : struct, IHalfFormat
    {
        int lane = Warp.LaneIdx;
        const int B = 16 * 8;
        scratch[ARow(lane, 0) * 8 + APair(lane, 0)] = Interop.IntAsFloat((uint)a0);
        scratch[ARow(lane, 1) * 8 + APair(lane, 1)] = Interop.IntAsFloat((uint)a1);
        scratch[ARow(lane, 2) * 8 + APair(lane, 2)] = Interop.IntAsFloat((uint)a2);
        scratch[ARow(lane, 3) * 8 + APair(lane, 3)] = Interop.IntAsFloat((uint)a3);
        scratch[B + BPair(lane, 0) * 8 + BCol(lane)] = Interop.IntAsFloat((uint)b0);
        scratch[B + BPair(lane, 1) * 8 + BCol(lane)] = Interop.IntAsFloat((uint)b1);
        Warp.Barrier();
        c.C0 += Dot(format, scratch, TensorCoreMma.CRow(lane, 0), TensorCoreMma.CCol(lane, 0));
        c.C1 += Dot(format, scratch, TensorCoreMma.CRow(lane, 1), TensorCoreMma.CCol(lane, 1));
        c.C2 += Dot(format, scratch, TensorCoreMma.CRow(lane, 2), TensorCoreMma.CCol(lane, 2));
        c.C3 += Dot(format, scratch, TensorCoreMma.CRow(lane, 3), TensorCoreMma.CCol(lane, 3));
        Warp.Barrier(); // the scratch is free for the next call
        return c;
    }

    /// <summary>Row <paramref name="row"/> of A times column <paramref name="col"/> of B, pair by pair; the products are exact in fp32 (at most 11 + 11 significant bits).</summary>
    static float Dot<THalf>(THalf format, ArrayView<float> scratch, int row, int col) where THalf : struct, IHalfFormat
    {
        float sum = 0f;
        for (int p = 0; p < 8; p++)
        {
            int a = (int)Interop.FloatAsInt(scratch[row * 8 + p]), b = (int)Interop.FloatAsInt(scratch[16 * 8 + p * 8 + col]);
            sum += format.Unpack(a) * format.Unpack(b);
            sum += format.Unpack(a >> 16) * format.Unpack(b >> 16);
        }
        return sum;
    }
}
