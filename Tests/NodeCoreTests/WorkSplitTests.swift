import NodeCore
import Testing
import WRPCommon

@Suite struct WorkSplitTests {
    static let backends = (0..<2_000).map { "backend-\($0)" }

    @Test(arguments: [3, 5, 10])
    func backends_nodeAdded_aboutTwoNthChangeOnlyToIncludeIt(n: Int) {
        let before = WorkSplit(routerNodes: (0..<n).map { "node-\($0)" })
        let after = WorkSplit(routerNodes: (0...n).map { "node-\($0)" })
        let newcomer = "node-\(n)"
        var changed = 0
        for b in Self.backends {
            let old = before.owners(of: b), new = after.owners(of: b)
            #expect(old.count == 2 && new.count == 2)
            guard Set(old) != Set(new) else { continue }
            changed += 1
            #expect(new.contains(newcomer), "\(b): \(old) → \(new) without the new node")
            #expect(Set(new).subtracting([newcomer]).isSubset(of: Set(old)), "\(b): \(old) → \(new)")
        }
        let share = Double(changed) / Double(Self.backends.count)
        let ideal = 2.0 / Double(n + 1)
        #expect(share > ideal * 0.6 && share < ideal * 1.4, "changed \(share), ideal \(ideal)")
    }

    @Test func backends_nodeLeaves_onlyItsBackendsChange() {
        let nodes = (0..<6).map { "node-\($0)" }
        let before = WorkSplit(routerNodes: nodes)
        let after = WorkSplit(routerNodes: nodes.filter { $0 != "node-2" })
        for b in Self.backends {
            let old = before.owners(of: b), new = after.owners(of: b)
            if old.contains("node-2") {
                #expect(!new.contains("node-2"))
                #expect(Set(old).subtracting(["node-2"]).isSubset(of: Set(new)), "\(b): \(old) → \(new)")
            } else {
                #expect(old == new)
            }
        }
    }

    @Test func owners_nodeListInAnyOrderWithDuplicates_areTheSame() {
        let a = WorkSplit(routerNodes: ["n1", "n2", "n3", "n4"])
        let b = WorkSplit(routerNodes: ["n4", "n2", "n1", "n3", "n2"])
        for id in Self.backends.prefix(200) { #expect(a.owners(of: id) == b.owners(of: id)) }
        #expect(WorkSplit.owners(of: "backend-7", routerNodes: ["n3", "n1", "n2", "n4"]) == a.owners(of: "backend-7"))
    }

    @Test(arguments: [(0, 0), (1, 1), (2, 2), (5, 2)])
    func owners_fewNodes_returnMinOfCountAndNodes(nodes: Int, expected: Int) {
        let split = WorkSplit(routerNodes: (0..<nodes).map { "n\($0)" })
        let owners = split.owners(of: "b")
        #expect(owners.count == expected)
        #expect(Set(owners).count == owners.count)
        #expect(split.owners(of: "b", count: 0).isEmpty)
    }

    @Test func owners_manyBackends_spreadEvenlyOverNodes() {
        let nodes = (0..<5).map { "node-\($0)" }
        let split = WorkSplit(routerNodes: nodes)
        var load: [String: Int] = [:]
        for b in Self.backends { for o in split.owners(of: b) { load[o, default: 0] += 1 } }
        let ideal = Double(Self.backends.count * 2) / Double(nodes.count)
        for n in nodes { #expect(abs(Double(load[n] ?? 0) - ideal) < ideal * 0.25, "\(n): \(load[n] ?? 0) vs \(ideal)") }
        #expect(split.isOwner(split.owners(of: "backend-1")[1], of: "backend-1"))
    }
}
