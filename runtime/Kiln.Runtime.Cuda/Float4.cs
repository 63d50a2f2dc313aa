using System.Runtime.InteropServices;

namespace Kiln.Runtime.Cuda;

/// <summary>
/// Four consecutive floats: read and written through a 16-byte-aligned view (<c>view.AsAligned(16).Cast&lt;Float4&gt;()</c>),
/// ILGPU's PTX backend issues one 128-bit access (<c>ld.global.v4.f32</c> / <c>st.global.v4.f32</c>) instead of four
/// 32-bit ones. A struct of its own rather than <see cref="System.Numerics.Vector4"/>, which .NET treats as an intrinsic.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct Float4
{
    public float X, Y, Z, W;

    public Float4(float x, float y, float z, float w) => (X, Y, Z, W) = (x, y, z, w);
}
