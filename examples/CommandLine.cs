using System;
using System.Globalization;

namespace Kiln.Examples;

/// <summary>
/// The examples' command line, compiled into each of them: <c>--help</c> prints the usage; a wrong option or number
/// is named, then the usage, exit code 2 (rather than an unhandled exception).
/// </summary>
static class CommandLine
{
    /// <summary>The parsed options, or null with the exit code to stop with (0 after <c>--help</c>, 2 after a bad argument).</summary>
    /// <param name="parse">Returns null for <c>--help</c>; throws ArgumentException (or a number's FormatException) on a bad argument.</param>
    public static T? Parse<T>(string[] args, Func<string[], T?> parse, string usage, out int exitCode) where T : class
    {
        exitCode = 0;
        try
        {
            var options = parse(args);
            if (options == null) Console.WriteLine(usage);
            return options;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine($"{e.Message}\n\n{usage}");
            exitCode = 2;
            return null;
        }
    }

    /// <summary>The usage line of <c>--weight-format</c>, which every example takes.</summary>
    public const string WeightFormatUsage =
        "  --weight-format fp32|bf16|int8|int4  how the matrix products' weights are stored (CPU only; default fp32)";

    /// <summary><c>--weight-format</c>'s value: fp32, bf16, int8 or int4.</summary>
    public static Kiln.Runtime.WeightFormat WeightFormat(string value) => value switch
    {
        "fp32" => Kiln.Runtime.WeightFormat.Float32,
        "bf16" => Kiln.Runtime.WeightFormat.BFloat16,
        "int8" => Kiln.Runtime.WeightFormat.Int8,
        "int4" => Kiln.Runtime.WeightFormat.Int4,
        _ => throw new ArgumentException($"--weight-format takes fp32, bf16, int8 or int4, not '{value}'."),
    };
}

/// <summary>
/// Reads an example's options one at a time: <c>while (o.Next()) switch (o.Option) { case "--steps": steps = o.Int(); … }</c>.
/// A missing value or a malformed number is an ArgumentException naming the option (which <see cref="CommandLine.Parse{T}"/>
/// prints above the usage).
/// </summary>
sealed class OptionReader(string[] args)
{
    int _index = -1;

    /// <summary>Moves to the next argument; false past the last.</summary>
    public bool Next() => ++_index < args.Length;

    /// <summary>The current option.</summary>
    public string Option => args[_index];

    /// <summary>The argument after the current option, consumed.</summary>
    public string Value() => _index + 1 < args.Length ? args[++_index] : throw new ArgumentException($"{Option} needs a value.");

    public int Int() => Number<int>(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : null, "a whole number");

    public float Float() => Number<float>(s => float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) ? v : null, "a number");

    public double Double() => Number<double>(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : null, "a number");

    /// <summary>The error for an option no case took.</summary>
    public ArgumentException Unknown() => new($"Unknown option '{Option}'.");

    T Number<T>(Func<string, T?> parse, string what) where T : struct
    {
        string option = Option, text = Value();
        return parse(text) ?? throw new ArgumentException($"{option} needs {what}, got '{text}'.");
    }
}
