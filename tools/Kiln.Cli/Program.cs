using System;
using System.Linq;
using Kiln.Cli.Report;

namespace Kiln.Cli;

/// <summary>The <c>kiln</c> command. Exit codes: 0 done (or help), 1 failed, 2 bad arguments.</summary>
public static class Program
{
    const string Usage = "kiln <command> [options]\n\nCommands:\n  report    an HTML compile report of a model assembly\n\n" + ReportOptions.Usage;

    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            switch (args[0])
            {
                case "report":
                    var options = ReportOptions.Parse(args.Skip(1).ToList());
                    if (options == null) { Console.WriteLine(ReportOptions.Usage); return 0; }
                    ReportCommand.Run(options, Console.Out);
                    return 0;
                default:
                    Console.Error.WriteLine($"Unknown command '{args[0]}'.\n\n{Usage}");
                    return 2;
            }
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"{e.Message}\n\n{ReportOptions.Usage}");
            return 2;
        }
        catch (Exception e) when (e is System.IO.IOException or BadImageFormatException or InvalidOperationException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"kiln: {e.Message}");
            return 1;
        }
    }
}
