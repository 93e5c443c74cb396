"""``python -m kelery.producer`` runs ``kelery-produce`` (handy where scripts are not on PATH)."""

from kelery.producer.cli import main

raise SystemExit(main())
