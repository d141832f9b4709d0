import ArgumentParser
struct TalkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "talk", abstract: "placeholder")
}
