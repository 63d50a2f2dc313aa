using System;
using System.Linq;
using Kiln.Cli.Ptx;
using Kiln.Cli.Report;

namespace Kiln.Cli;

/// <summary>The <c>kiln</c> command. Exit codes: 0 done (or help), 1 failed, 2 bad arguments.</summary>
public static class Program
{
    const string Usage = "kiln <command> [options]\n\nCommands:\n  report         an HTML compile report of a model assembly\n" +
        "  ptx            the PTX of every CUDA kernel of a model assembly, or of the kernel library\n" +
        "  ptx-pack       the same PTX in one file beside the assembly, loaded at a model's first call instead of compiling\n" +
        "  ptxas-report   NVIDIA's assembler on those: registers, spills, shared memory, occupancy, tensor cores\n\n" +
        ReportOptions.Usage + "\n\n" + PtxCommand.Usage + "\n\n" + PtxPackCommand.Usage + "\n\n" + PtxasReportCommand.Usage;

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
                case "ptx":
                    var ptx = PtxCommand.Parse(args.Skip(1).ToList());
                    if (ptx == null) { Console.WriteLine(PtxCommand.Usage); return 0; }
                    PtxCommand.Run(ptx, Console.Out);
                    return 0;
                case "ptx-pack":
                    var pack = PtxPackCommand.Parse(args.Skip(1).ToList());
                    if (pack == null) { Console.WriteLine(PtxPackCommand.Usage); return 0; }
                    PtxPackCommand.Run(pack, Console.Out);
                    return 0;
                case "ptxas-report":
                    var ptxas = PtxasReportCommand.Parse(args.Skip(1).ToList());
                    if (ptxas == null) { Console.WriteLine(PtxasReportCommand.Usage); return 0; }
                    var rows = PtxasReportCommand.Run(ptxas, Console.Out);
                    return rows.Any(r => r.Result.Error != null) ? 1 : 0;
                default:
                    Console.Error.WriteLine($"Unknown command '{args[0]}'.\n\n{Usage}");
                    return 2;
            }
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"{e.Message}\n\n{(args[0] switch { "ptx" => PtxCommand.Usage, "ptx-pack" => PtxPackCommand.Usage, "ptxas-report" => PtxasReportCommand.Usage, _ => ReportOptions.Usage })}");
            return 2;
        }
        catch (Exception e) when (e is System.IO.IOException or System.ComponentModel.Win32Exception or BadImageFormatException or InvalidOperationException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"kiln: {e.Message}");
            return 1;
        }
    }
}
