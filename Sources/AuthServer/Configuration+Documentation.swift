import Foundation

extension Configuration {
    /// The settings by heading, headings in the order of their first setting.
    public static var settingsByGroup: [(group: Setting.Group, settings: [Setting])] {
        var groups: [(group: Setting.Group, settings: [Setting])] = []
        for setting in settings {
            if let index = groups.firstIndex(where: { $0.group == setting.group }) {
                groups[index].settings.append(setting)
            } else {
                groups.append((setting.group, [setting]))
            }
        }
        return groups
    }

    /// The README's settings tables (`tessera config --markdown`): one table per heading.
    public static func settingsMarkdown() -> String {
        var lines: [String] = []
        for (group, settings) in settingsByGroup {
            lines += ["### \(group.title)", "", "| variable | flag | default | values | meaning |", "|---|---|---|---|---|"]
            for setting in settings {
                let cells = ["`\(setting.variable)`", "`--\(setting.flag)`", setting.defaultValue.documentation,
                             setting.accepts ?? "any", setting.summary]
                lines.append("| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |")
            }
            lines.append("")
        }
        return lines.joined(separator: "\n")
    }

    /// The settings as `--help` lists them, wrapped to `width` columns.
    public static func settingsHelp(width: Int = 70) -> String {
        var lines: [String] = []
        for (group, settings) in settingsByGroup {
            lines += ["", group.title.uppercased() + ":"]
            for setting in settings {
                lines.append("  --\(setting.flag) <\(setting.valueName)>")
                var summary = plain(setting.summary)
                summary = summary.prefix(1).uppercased() + summary.dropFirst() + "."
                if let accepts = setting.accepts { summary += " Values: \(plain(accepts))." }
                lines += wrap(summary, width: width, indent: 6)
                let origin = "Variable \(setting.variable); default \(plain(setting.defaultValue.documentation)); e.g. \(setting.example)."
                lines += wrap(origin, width: width, indent: 6)
            }
        }
        return lines.dropFirst().joined(separator: "\n")
    }

    /// Markdown text as plain text: code spans lose their backquotes.
    private static func plain(_ markdown: String) -> String {
        markdown.replacingOccurrences(of: "`", with: "")
    }

    /// `text` in lines of at most `width` columns (a longer word stands alone), each indented by `indent`.
    private static func wrap(_ text: String, width: Int, indent: Int) -> [String] {
        let margin = String(repeating: " ", count: indent)
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, indent + line.count + 1 + word.count > width {
                lines.append(margin + line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(margin + line) }
        return lines
    }
}
