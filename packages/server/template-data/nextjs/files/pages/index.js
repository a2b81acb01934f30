import Head from 'next/head';
import Link from 'next/link';
import { useEffect, useState } from 'react';
import styles from '../styles/Home.module.css';

export default function Home() {
  const [count, setCount] = useState(0);
  const [message, setMessage] = useState('Asking the API route…');

  useEffect(() => {
    let cancelled = false;
    fetch('/api/hello')
      .then((response) => response.json())
      .then((body) => {
        if (!cancelled) setMessage(body.message);
      })
      .catch(() => {
        if (!cancelled) setMessage('The API route did not answer.');
      });
    return () => {
      cancelled = true;
    };
  }, []);

  return (
    <>
      <Head>
        <title>Next.js</title>
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
      </Head>
      <main className={styles.card}>
        <h1 className={styles.title}>Hello, Tandem</h1>
        <p>A Next.js page everyone in this project can edit.</p>
        <button type="button" className={styles.button} onClick={() => setCount((n) => n + 1)}>
          Clicked {count} {count === 1 ? 'time' : 'times'}
        </button>
        <p className={styles.api}>{message}</p>
        <p>
          <Link href="/posts">Read the posts</Link>
        </p>
        <p className={styles.hint}>
          Edit <code>pages/index.js</code> or <code>pages/api/hello.js</code> and the page updates.
        </p>
      </main>
    </>
  );
}
