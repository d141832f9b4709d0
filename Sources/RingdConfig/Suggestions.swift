// "did you mean ...?" for misspelt keys, tables and choices, and the messages that offer it.

/// The candidate closest to `name`, when it is close enough to be a likely typo (at most one edit
/// for short names, up to a third of the length for longer ones) or an abbreviation of at least
/// three letters ("warn" for "warning"). Ties go to the earlier candidate.
func nearestName(to name: String, among candidates: [String]) -> String? {
    let typed = Array(name.lowercased().unicodeScalars)
    var best: (name: String, distance: Int)?
    for candidate in candidates {
        let spelled = Array(candidate.lowercased().unicodeScalars)
        let distance = editDistance(typed, spelled)
        let allowed = max(1, min(typed.count, spelled.count) / 3)
        let isAbbreviation = typed.count >= 3 && spelled.starts(with: typed)
        if distance <= allowed || isAbbreviation, distance < best?.distance ?? .max {
            best = (candidate, distance)
        }
    }
    return best?.name
}

/// Insertions, deletions, substitutions and swaps of neighbours needed to turn `a` into `b`
/// (the optimal string alignment distance), so "wokers" is 1 from "workers" and "backlgo" 1 from
/// "backlog".
func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    // distances[i][j]: between the first i scalars of a and the first j of b.
    var distances = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { distances[i][0] = i }
    for j in 0...b.count { distances[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let substitution = a[i - 1] == b[j - 1] ? 0 : 1
            var distance = min(
                distances[i - 1][j] + 1, distances[i][j - 1] + 1, distances[i - 1][j - 1] + substitution)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                distance = min(distance, distances[i - 2][j - 2] + 1)
            }
            distances[i][j] = distance
        }
    }
    return distances[a.count][b.count]
}

/// For a key before any table header, which is never valid: every key belongs to a table.
func topLevelKeyMessage(_ name: String) -> String {
    if let owner = Schema.keys.first(where: { $0.name == name }) {
        return "key '\(name)' must be in a table (it belongs in [\(owner.table)])"
    }
    let tables = Schema.tableNames.map { "[\($0)]" }.joined(separator: ", ")
    return "unknown key '\(name)' at the top level (every key belongs in a table: \(tables))"
}

func unknownTableMessage(_ name: String) -> String {
    let suggestion = nearestName(to: name, among: Schema.tableNames).map { " (did you mean [\($0)]?)" } ?? ""
    return "unknown table [\(name)]\(suggestion)"
}

func unknownKeyMessage(_ name: String, in table: String) -> String {
    let names = Schema.keys(in: table).map(\.name)
    let suggestion: String
    if let nearest = nearestName(to: name, among: names) {
        suggestion = " (did you mean '\(nearest)'?)"
    } else if let owner = Schema.keys.first(where: { $0.name == name }) {
        suggestion = " (it belongs in [\(owner.table)])"
    } else {
        suggestion = ""
    }
    return "unknown key '\(name)' in [\(table)]\(suggestion)"
}
