import WRPCommon

/// A min-heap of events by (time, insertion order), so simultaneous events run in the order they
/// were scheduled and a run replays exactly from its seed. Payloads live in a slab; the heap moves
/// only small fixed-size entries.
struct EventQueue<Payload> {
    private struct Entry {
        var time: UInt64
        var order: UInt64
        var slot: Int
        @inline(__always)
        static func < (a: Entry, b: Entry) -> Bool { a.time != b.time ? a.time < b.time : a.order < b.order }
    }

    private var heap: [Entry] = []
    private var slab: [Payload?] = []
    private var free: [Int] = []
    private var order: UInt64 = 0

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }
    var nextTime: Instant? { heap.first.map { Instant(nanoseconds: $0.time) } }

    mutating func push(_ payload: Payload, at time: Instant) {
        let slot: Int
        if let f = free.popLast() {
            slab[f] = payload
            slot = f
        } else {
            slot = slab.count
            slab.append(payload)
        }
        order &+= 1
        heap.append(Entry(time: time.nanoseconds, order: order, slot: slot))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !(heap[i] < heap[parent]) { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (Instant, Payload)? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            let n = heap.count
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < n && heap[l] < heap[m] { m = l }
                if r < n && heap[r] < heap[m] { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        let p = slab[top.slot]!
        slab[top.slot] = nil
        free.append(top.slot)
        return (Instant(nanoseconds: top.time), p)
    }
}
