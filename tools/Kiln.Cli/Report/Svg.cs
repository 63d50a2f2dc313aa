using System.Globalization;
using System.Net;

namespace Kiln.Cli.Report;

/// <summary>Small helpers for hand-written SVG: invariant numbers, escaped text, a stable colour per kernel kind.</summary>
static class Svg
{
    public static string N(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    public static string Text(string value) => WebUtility.HtmlEncode(value);

    /// <summary>Fill colours by kernel kind (readable on white, distinct in grey-scale print as far as eight can be).</summary>
    public static string KindColour(string kind) => kind switch
    {
        "matmul" => "#9ecae1",
        "conv2d" => "#bcbddc",
        "attention" or "cachedattention" => "#fdae6b",
        "gather" or "writeat" => "#fdd0a2",
        "softmax" or "logsoftmax" or "layernorm" or "rmsnorm" => "#a1d99b",
        "maxpool2d" or "avgpool2d" => "#dadaeb",
        "elementwise" => "#e5e5e5",
        _ => "#c7e9c0", // reductions
    };

    /// <summary>A buffer's colour in the memory timeline: spread around the hue circle by its index.</summary>
    public static string BufferColour(int index) =>
        $"hsl({(index * 137) % 360}, 55%, {(index % 2 == 0 ? 72 : 62)}%)";

    /// <summary>Bytes in the largest binary unit that keeps the number at or above 1, as Kiln's diagnostics write them.</summary>
    public static string Bytes(long bytes) => Kiln.Compiler.Memory.DeviceFootprint.Format(bytes);

    /// <summary>A count with an SI prefix (FLOPs).</summary>
    public static string Count(double value)
    {
        string[] prefixes = { "", "k", "M", "G", "T", "P" };
        int p = 0;
        while (value >= 1000 && p < prefixes.Length - 1) { value /= 1000; p++; }
        return value.ToString(value >= 100 || p == 0 ? "0" : value >= 10 ? "0.0" : "0.00", CultureInfo.InvariantCulture) + (p == 0 ? "" : " " + prefixes[p]);
    }

    /// <summary>A duration in the unit that reads best (ns, µs, ms, s).</summary>
    public static string Seconds(double seconds) => seconds switch
    {
        < 1e-6 => (seconds * 1e9).ToString("0.0", CultureInfo.InvariantCulture) + " ns",
        < 1e-3 => (seconds * 1e6).ToString("0.0", CultureInfo.InvariantCulture) + " µs",
        < 1 => (seconds * 1e3).ToString("0.00", CultureInfo.InvariantCulture) + " ms",
        _ => seconds.ToString("0.00", CultureInfo.InvariantCulture) + " s",
    };
}
