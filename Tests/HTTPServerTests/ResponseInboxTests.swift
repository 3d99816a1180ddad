import Foundation
import Synchronization
import Testing
@testable import HTTPServer

@Suite struct ResponseInboxTests {
    @Test("Items come out oldest first; only a push onto an empty inbox asks for a wake-up")
    func order() {
        let inbox = ResponseInbox()
        #expect(inbox.takeAll().isEmpty)
        #expect(inbox.push(.init(connection: 1, sequence: 0, response: HTTPResponse())))
        #expect(!inbox.push(.init(connection: 1, sequence: 1, response: HTTPResponse())))
        #expect(!inbox.push(.init(connection: 2, sequence: 0, response: HTTPResponse())))
        #expect(inbox.takeAll().map { [$0.connection, $0.sequence] } == [[1, 0], [1, 1], [2, 0]])
        #expect(inbox.takeAll().isEmpty)
        #expect(inbox.push(.init(connection: 3, sequence: 0, response: HTTPResponse())))
    }

    @Test("Concurrent producers lose nothing and duplicate nothing, and each producer's items keep their order")
    func concurrentProducers() {
        let inbox = ResponseInbox()
        let producers = 4
        let itemsEach = 20_000
        let finished = Atomic<Int>(0)
        for producer in 0..<producers {
            let thread = Thread {
                for sequence in 0..<itemsEach {
                    _ = inbox.push(.init(connection: UInt64(producer), sequence: UInt64(sequence), response: HTTPResponse()))
                }
                finished.wrappingAdd(1, ordering: .releasing)
            }
            thread.start()
        }
        var next = [UInt64](repeating: 0, count: producers)
        var received = 0
        let deadline = Date().addingTimeInterval(60)
        while received < producers * itemsEach && Date() < deadline {
            let items = inbox.takeAll()
            for item in items {
                #expect(item.sequence == next[Int(item.connection)])
                next[Int(item.connection)] = item.sequence + 1
            }
            received += items.count
            if items.isEmpty { Thread.sleep(forTimeInterval: 0.001) }
        }
        while finished.load(ordering: .acquiring) < producers && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.001)
        }
        received += inbox.takeAll().count
        #expect(received == producers * itemsEach)
        #expect(next == [UInt64](repeating: UInt64(itemsEach), count: producers))
    }
}
