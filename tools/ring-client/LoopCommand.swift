import ArgumentParser
struct LoopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "loop", abstract: "placeholder")
}
