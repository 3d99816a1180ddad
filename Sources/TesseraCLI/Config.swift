import ArgumentParser
import AuthServer

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every setting: its flag, environment variable, default, values and meaning.",
        discussion: "`tessera serve` and `tessera dev` take every setting as a flag; README.md's settings tables are this command's --markdown output."
    )

    @Flag(help: "Print the settings as README.md's Markdown tables.")
    var markdown = false

    func run() {
        print(markdown ? Configuration.settingsMarkdown() : Configuration.settingsHelp(width: 80), terminator: markdown ? "" : "\n")
    }
}
