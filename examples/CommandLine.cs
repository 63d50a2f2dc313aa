using System;

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
}
