import Head from 'next/head';
import Link from 'next/link';
import { useRouter } from 'next/router';
import styles from '../../styles/Home.module.css';

export default function Post() {
  const { query } = useRouter();
  return (
    <>
      <Head>
        <title>{`Post ${query.id ?? ''}`}</title>
      </Head>
      <main className={styles.card}>
        <h1 className={styles.title}>Post: {query.id}</h1>
        <p>
          This page is <code>pages/posts/[id].js</code>: a dynamic route, its parameter read with{' '}
          <code>useRouter().query</code>.
        </p>
        <p>
          <Link href="/posts">All posts</Link>
        </p>
      </main>
    </>
  );
}
