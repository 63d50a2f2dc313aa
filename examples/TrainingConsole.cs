using System;
using System.IO;
using Spectre.Console;

namespace Kiln.Examples;

/// <summary>What the examples' <c>-- train</c> programs share at the console: not overwriting files, and a progress bar.</summary>
static class TrainingConsole
{
    /// <summary>False, after saying why on standard error, when one of <paramref name="paths"/> exists and <paramref name="overwrite"/> is off.</summary>
    public static bool MayWrite(bool overwrite, params string[] paths)
    {
        foreach (var path in paths)
            if (File.Exists(path) && !overwrite)
            {
                Console.Error.WriteLine($"{path} exists; pass --overwrite to replace it, or choose another path.");
                return false;
            }
        return true;
    }

    /// <summary>
    /// Runs <paramref name="train"/>, which calls its argument once per step with the line to show (null keeps the last):
    /// a progress bar of <paramref name="steps"/> steps with elapsed and remaining time on an interactive console, and
    /// nothing on a redirected one.
    /// </summary>
    public static void Run(int steps, Action<Action<string?>> train)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            train(_ => { });
            return;
        }
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("training", maxValue: steps);
                train(line =>
                {
                    task.Increment(1);
                    if (line != null) task.Description = line;
                });
            });
    }
}
