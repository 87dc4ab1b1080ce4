from streams.commands import main

raise SystemExit(main())
