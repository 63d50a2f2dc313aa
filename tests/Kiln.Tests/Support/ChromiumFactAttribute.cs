using System.IO;
using Xunit;

namespace Kiln.Tests.Support;

/// <summary>
/// A test that renders a page in headless Chromium (Debian's <c>chromium</c>, which <c>.ci/run</c> installs): reported
/// as skipped, never passed, where it is not installed.
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public const string Executable = "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(Executable)) Skip = $"No Chromium at {Executable} (apt-get install chromium).";
    }
}
